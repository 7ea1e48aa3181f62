/**
 * A stand-in for hls.js in unit tests (`vi.mock("hls.js/light", ...)`): the constants the player
 * reads, its calls recorded, and `fire` to raise an hls.js event.
 */
type Handler = (event: string, data: unknown) => void;

export class FakeHls {
  static instances: FakeHls[] = [];
  static isSupported = (): boolean => true;
  static Events = {
    ERROR: "hlsError",
    MANIFEST_PARSED: "hlsManifestParsed",
    LEVEL_UPDATED: "hlsLevelUpdated",
    BUFFER_CODECS: "hlsBufferCodecs",
    LEVEL_LOADED: "hlsLevelLoaded",
    FRAG_LOADING: "hlsFragLoading",
    FRAG_LOADED: "hlsFragLoaded",
    FRAG_LOAD_EMERGENCY_ABORTED: "hlsFragLoadEmergencyAborted",
  };
  static ErrorTypes = { NETWORK_ERROR: "networkError", MEDIA_ERROR: "mediaError", OTHER_ERROR: "otherError" };
  static ErrorDetails = { MANIFEST_LOAD_ERROR: "manifestLoadError", BUFFER_STALLED_ERROR: "bufferStalledError" };

  readonly calls: string[] = [];
  levels: { url?: string[]; details?: unknown; bitrate?: number }[] = [];
  url: string | null = null;
  loadLevel = 0;
  autoLevelEnabled = true;
  nextAutoLevel = -1;
  nextLoadLevel = -1;
  currentLevel = -1;
  autoLevelCapping = -1;
  liveSyncPosition: number | null = null;
  latency = 0;
  playingDate: Date | null = null;
  private handlers = new Map<string, Handler[]>();

  constructor(readonly config: unknown) {
    FakeHls.instances.push(this);
  }

  on(event: string, fn: Handler): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
  }

  off(event: string, fn: Handler): void {
    this.handlers.set(event, (this.handlers.get(event) ?? []).filter((h) => h !== fn));
  }

  fire(event: string, data: unknown = {}): void {
    for (const fn of this.handlers.get(event) ?? []) fn(event, data);
  }

  attachMedia(): void {
    this.calls.push("attachMedia");
  }

  loadSource(url: string): void {
    this.url = url;
    this.calls.push(`loadSource ${url}`);
  }

  removeLevel(index: number): void {
    this.calls.push(`removeLevel ${index}`);
    this.levels = this.levels.filter((_, i) => i !== index);
  }

  startLoad(position?: number): void {
    this.calls.push(position === undefined ? "startLoad" : `startLoad ${position}`);
  }

  stopLoad(): void {
    this.calls.push("stopLoad");
  }

  recoverMediaError(): void {
    this.calls.push("recoverMediaError");
  }

  swapAudioCodec(): void {
    this.calls.push("swapAudioCodec");
  }

  destroy(): void {
    this.calls.push("destroy");
  }
}
