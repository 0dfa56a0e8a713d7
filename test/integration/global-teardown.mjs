export default async function globalTeardown() {
  await globalThis.__DETOUR_CONTROL_PLANE__?.stop();
}
