/**
 * The device picker: which microphone, camera and speaker this page uses (devices.ts keeps the
 * choice, media.ts applies it). Opened from the controls' *Devices* button; it lists what the
 * browser offers each time it is drawn, so a headset plugged in while it is open shows up.
 */
import { type Device, type DeviceChoice, type DeviceKind, labelOf, selectedId } from "../../devices";
import { clear, h, stale } from "../../dom";

/** Where the lists come from (the SpaceRoom). */
export interface DeviceSource {
  devices(kind: DeviceKind): Promise<Device[]>;
  activeDevice(kind: DeviceKind): string | undefined;
}

const TITLES: Record<DeviceKind, string> = {
  audioinput: "Microphone",
  videoinput: "Camera",
  audiooutput: "Speaker",
};

interface Row {
  kind: DeviceKind;
  options: { id: string; label: string }[];
  selected: string | undefined;
}

export class DevicesView {
  readonly el = h("div", { class: "devices", "data-testid": "devices", hidden: true });
  private open = false;
  private source: DeviceSource | null = null;
  private kinds: DeviceKind[] = [];
  /** Bumped by every draw: a slower listing that finishes after a newer one gives way. */
  private generation = 0;
  /** Just opened: the first lists drawn are scrolled into view (the controls can sit at the window's bottom). */
  private revealNext = false;

  constructor(
    private readonly choose: (kind: DeviceKind, deviceId: string) => void,
    private readonly saved: () => DeviceChoice,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  toggle(): void {
    this.setOpen(!this.open);
  }

  /** Every render: the room to read devices from and the kinds I may choose now (none: closed). */
  update(source: DeviceSource | null, kinds: DeviceKind[]): void {
    this.source = source;
    this.kinds = kinds;
    if (!source || kinds.length === 0) return this.setOpen(false);
    if (this.open) void this.draw();
  }

  reset(): void {
    this.setOpen(false);
  }

  private setOpen(open: boolean): void {
    if (open && !this.open) this.revealNext = true;
    this.open = open;
    this.el.hidden = !open;
    if (open) void this.draw();
    else {
      this.generation++;
      stale(this.el, null);
      clear(this.el);
    }
  }


  private async draw(): Promise<void> {
    const generation = ++this.generation;
    const source = this.source;
    if (!source) return;
    const lists = await Promise.all(
      this.kinds.map(async (kind) => [kind, await source.devices(kind).catch(() => [] as Device[])] as const),
    );
    if (generation !== this.generation || !this.open) return;
    const saved = this.saved();
    const rows: Row[] = lists
      .filter(([, list]) => list.length > 0)
      .map(([kind, list]) => ({
        kind,
        options: list.map((d, i) => ({ id: d.deviceId, label: labelOf(d, i, kind) })),
        selected: selectedId(list, source.activeDevice(kind), saved[kind]),
      }));
    // Unchanged: keep the DOM (and a list the person has open), but show the device in use: a
    // choice the browser refused leaves its <select> on a device that is not.
    if (!stale(this.el, rows)) {
      for (const row of rows) {
        const select = this.el.querySelector<HTMLSelectElement>(`select[data-testid="device-${row.kind}"]`);
        if (select && row.selected !== undefined && select.value !== row.selected) select.value = row.selected;
      }
      return;
    }
    clear(this.el);
    if (rows.length === 0) {
      this.el.append(h("p", { class: "muted" }, "This browser offers no devices to choose from."));
      return;
    }
    for (const row of rows) {
      const select = h(
        "select",
        { "data-testid": `device-${row.kind}`, "aria-label": TITLES[row.kind] },
        ...row.options.map((o) => h("option", { value: o.id, selected: o.id === row.selected }, o.label)),
      );
      select.addEventListener("change", () => this.choose(row.kind, select.value));
      this.el.append(h("label", { class: "device" }, h("span", {}, TITLES[row.kind]), select));
    }
    if (this.revealNext) {
      this.revealNext = false;
      this.el.scrollIntoView?.({ block: "nearest" });
    }
  }
}
