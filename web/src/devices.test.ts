// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";

import { DEVICES_KEY, DevicePreferences, labelOf, parseChoice, selectedId } from "./devices";
import { DevicesView } from "./views/space/devices";

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

const mics = [
  { deviceId: "default", label: "Default" },
  { deviceId: "usb", label: "USB headset" },
  { deviceId: "built-in", label: "" },
];

describe("device choice", () => {
  it("remembers one device per kind across pages, and survives broken storage", () => {
    const storage = new MemoryStorage();
    new DevicePreferences(storage).set("audioinput", "usb");
    new DevicePreferences(storage).set("videoinput", "cam2");
    expect(new DevicePreferences(storage).get()).toEqual({ audioinput: "usb", videoinput: "cam2" });
    const broken = {
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => undefined,
    };
    expect(new DevicePreferences(broken).get()).toEqual({});
    expect(() => new DevicePreferences(broken).set("audioinput", "usb")).not.toThrow();
    expect(new DevicePreferences(null).get()).toEqual({});
  });

  it("keeps only well-formed ids of known kinds from whatever is stored", () => {
    expect(parseChoice('{"audioinput": "usb", "bogus": "x", "videoinput": 7, "audiooutput": ""}')).toEqual({ audioinput: "usb" });
    expect(parseChoice("not json")).toEqual({});
    expect(parseChoice("[1]")).toEqual({});
    expect(parseChoice(JSON.stringify({ audioinput: "x".repeat(257) }))).toEqual({});
  });

  it("selects the active device, else the saved one if plugged in, else the default", () => {
    expect(selectedId(mics, "built-in", "usb")).toBe("built-in");
    expect(selectedId(mics, undefined, "usb")).toBe("usb");
    expect(selectedId(mics, undefined, "unplugged")).toBe("default");
    expect(selectedId([{ deviceId: "a", label: "" }], undefined, "unplugged")).toBe("a");
    expect(selectedId([], undefined, "usb")).toBeUndefined();
  });

  it("names a device the page may not read the label of yet", () => {
    expect(labelOf(mics[2], 2, "audioinput")).toBe("Microphone 3");
    expect(labelOf({ deviceId: "x", label: "" }, 0, "audiooutput")).toBe("Speaker 1");
    expect(labelOf(mics[1], 1, "audioinput")).toBe("USB headset");
  });
});

describe("DevicesView", () => {
  const source = (active: string | undefined = undefined) => ({
    devices: vi.fn(async (kind: string) => (kind === "audioinput" ? mics : [])),
    activeDevice: () => active,
  });
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

  it("lists the kinds it is given when opened, and reports a choice", async () => {
    const choose = vi.fn();
    const view = new DevicesView(choose, () => ({ audioinput: "usb" }));
    const src = source();
    view.update(src, ["audioinput", "videoinput"]);
    expect(view.el.hidden).toBe(true);
    expect(src.devices).not.toHaveBeenCalled(); // closed: nothing listed
    view.toggle();
    await settle();
    const select = view.el.querySelector('[data-testid="device-audioinput"]') as HTMLSelectElement;
    expect([...select.options].map((o) => o.textContent)).toEqual(["Default", "USB headset", "Microphone 3"]);
    expect(select.value).toBe("usb");
    expect(view.el.querySelector('[data-testid="device-videoinput"]')).toBeNull(); // no camera offered
    select.value = "built-in";
    select.dispatchEvent(new Event("change"));
    expect(choose).toHaveBeenCalledWith("audioinput", "built-in");
  });

  it("closes when the person may no longer capture (a demotion)", async () => {
    const view = new DevicesView(vi.fn(), () => ({}));
    view.update(source(), ["audioinput"]);
    view.toggle();
    await settle();
    expect(view.isOpen).toBe(true);
    view.update(source(), []);
    expect(view.isOpen).toBe(false);
    expect(view.el.hidden).toBe(true);
    expect(view.el.childElementCount).toBe(0);
  });

  it("uses the storage key the docs name", () => {
    const storage = new MemoryStorage();
    new DevicePreferences(storage).set("audiooutput", "speakers");
    expect(JSON.parse(storage.getItem(DEVICES_KEY) ?? "{}")).toEqual({ audiooutput: "speakers" });
  });
});
