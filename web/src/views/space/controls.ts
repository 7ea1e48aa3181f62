/** My controls: microphone and camera when the SFU lets me publish, else a raised hand. */
import { clear, h, stale } from "../../dom";
import { icon } from "../../icons";

export interface ControlsInput {
  rights: { mic: boolean; camera: boolean };
  micOn: boolean;
  cameraOn: boolean;
  raised: boolean;
}

export interface ControlsActions {
  setMic(on: boolean): void;
  setCamera(on: boolean): void;
  raiseHand(up: boolean): void;
}

function roundButton(testid: string, on: boolean, onclick: () => void, ...content: (Node | string)[]): HTMLElement {
  return h("button", { class: `btn round ${on ? "on" : ""}`, "data-testid": testid, "aria-pressed": on ? "true" : "false", onclick }, ...content);
}

export class ControlsView {
  readonly el = h("div", { class: "controls", "data-testid": "controls" });

  constructor(private readonly actions: ControlsActions) {}

  reset(): void {
    stale(this.el, null);
  }

  update(input: ControlsInput): void {
    const { rights, micOn, cameraOn, raised } = input;
    if (!stale(this.el, [rights, micOn, cameraOn, raised])) return;
    clear(this.el);
    const a = this.actions;
    if (rights.mic) {
      this.el.append(roundButton("toggle-mic", micOn, () => a.setMic(!micOn), icon(micOn ? "mic" : "micOff"), micOn ? "Mute" : "Unmute"));
    }
    if (rights.camera) {
      this.el.append(
        roundButton("toggle-camera", cameraOn, () => a.setCamera(!cameraOn), icon(cameraOn ? "camera" : "cameraOff"), cameraOn ? "Stop video" : "Start video"),
      );
    }
    if (!rights.mic && !rights.camera) {
      this.el.append(roundButton("raise-hand", raised, () => a.raiseHand(!raised), icon("hand"), raised ? "Lower hand" : "Request to speak"));
    }
  }
}
