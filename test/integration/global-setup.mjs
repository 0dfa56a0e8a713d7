// Starts one real local cluster for the whole integration run — control plane plus the test node
// that runs pods — and hands its kubeconfig to the test files through the environment (jest
// starts its workers after global setup). Plain ESM loading the TypeScript through tsx: jest's
// module mapper does not apply to globalSetup.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startLocalCluster } = await tsImport('../../cluster/start-local-cluster.ts', import.meta.url);
  const cluster = await startLocalCluster({
    repoRoot: join(dirname(fileURLToPath(import.meta.url)), '..', '..'),
    assetsDir: process.env.KUBEBUILDER_ASSETS,
    log: (line) => process.stderr.write(`[cluster] ${line}\n`),
  });
  globalThis.__DETOUR_LOCAL_CLUSTER__ = cluster;
  process.env.KUBECONFIG = cluster.plane.kubeconfigPath;
  process.env.DETOUR_TEST_CONTROL_PLANE_DIR = cluster.plane.dir;
  process.env.DETOUR_TEST_NODE_NETWORK = JSON.stringify(cluster.net);
}
