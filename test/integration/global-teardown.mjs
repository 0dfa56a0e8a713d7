export default async function globalTeardown() {
  await globalThis.__DETOUR_LOCAL_CLUSTER__?.stop();
}
