// Starts one real local control plane for the whole integration run and hands its kubeconfig to
// the test files through the environment (jest starts its workers after global setup).
// Plain ESM loading the TypeScript through tsx: jest's module mapper does not apply to globalSetup.
import { tsImport } from 'tsx/esm/api';

export default async function globalSetup() {
  const { startControlPlane } = await tsImport('../controlplane/start-control-plane.ts', import.meta.url);
  const plane = await startControlPlane({
    assetsDir: process.env.KUBEBUILDER_ASSETS,
    log: (line) => process.stderr.write(`[control plane] ${line}\n`),
  });
  globalThis.__DETOUR_CONTROL_PLANE__ = plane;
  process.env.KUBECONFIG = plane.kubeconfigPath;
  process.env.DETOUR_TEST_CONTROL_PLANE_DIR = plane.dir;
}
