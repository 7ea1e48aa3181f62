// Unit tests never reach the network: a request no test answers fails at once, as it does offline
// (a live player's HEAD probes of its playlists, for one, would otherwise ask DNS for cdn.example).
// Assigned rather than stubbed, so that a test's vi.unstubAllGlobals() comes back to it.
globalThis.fetch = async (input: RequestInfo | URL): Promise<Response> => {
  throw new TypeError(`no network in unit tests: ${String(input)}`);
};
