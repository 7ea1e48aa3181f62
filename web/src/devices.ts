/**
 * Which microphone, camera and speaker this browser uses in a Space (docs/web.md, "Devices"). The
 * choice is kept per browser (localStorage: a headset chosen once stays chosen), by device id; a
 * device that is unplugged or renamed falls back to the browser's default. No DOM here beyond the
 * storage given; the picker (views/space/devices.ts) shows it and media.ts applies it.
 */
import type { KeyValue } from "./rejoin";

export type DeviceKind = "audioinput" | "videoinput" | "audiooutput";

/** localStorage key: `{"audioinput": id, "videoinput": id, "audiooutput": id}`, any of them absent. */
export const DEVICES_KEY = "spaces.devices";

export type DeviceChoice = Partial<Record<DeviceKind, string>>;

/** What the picker needs of a device (a MediaDeviceInfo has it). */
export interface Device {
  deviceId: string;
  label: string;
}

const KINDS: readonly DeviceKind[] = ["audioinput", "videoinput", "audiooutput"];
/** Longest id kept: browsers use 64 hex digits; anything far longer is not one of theirs. */
const MAX_ID = 256;

/** The chosen devices, read and written through storage; storage errors (private modes) are ignored. */
export class DevicePreferences {
  constructor(private readonly storage: KeyValue | null) {}

  get(): DeviceChoice {
    let raw: string | null = null;
    try {
      raw = this.storage?.getItem(DEVICES_KEY) ?? null;
    } catch {
      return {};
    }
    return parseChoice(raw);
  }

  set(kind: DeviceKind, deviceId: string): void {
    const choice = { ...this.get(), [kind]: deviceId };
    try {
      this.storage?.setItem(DEVICES_KEY, JSON.stringify(choice));
    } catch {
      // No storage: the choice holds for this room only.
    }
  }
}

/** A stored choice, keeping only well-formed ids of known kinds (another page may have written it). */
export function parseChoice(raw: string | null): DeviceChoice {
  let value: unknown;
  try {
    value = raw ? JSON.parse(raw) : null;
  } catch {
    return {};
  }
  if (typeof value !== "object" || value === null) return {};
  const choice: DeviceChoice = {};
  for (const kind of KINDS) {
    const id = (value as Record<string, unknown>)[kind];
    if (typeof id === "string" && id.length > 0 && id.length <= MAX_ID) choice[kind] = id;
  }
  return choice;
}

/**
 * The device a list should show as selected: the active one if the list has it, else the saved one
 * if plugged in, else the browser's default (the list's "default" entry, or its first).
 */
export function selectedId(devices: readonly Device[], active: string | undefined, saved: string | undefined): string | undefined {
  for (const id of [active, saved, "default"]) {
    if (id && devices.some((d) => d.deviceId === id)) return id;
  }
  return devices[0]?.deviceId;
}

/** A device's name; before the page may read labels (no permission yet) a numbered stand-in. */
export function labelOf(device: Device, index: number, kind: DeviceKind): string {
  if (device.label) return device.label;
  const noun = kind === "audioinput" ? "Microphone" : kind === "videoinput" ? "Camera" : "Speaker";
  return `${noun} ${index + 1}`;
}
