/** My controls: microphone, camera and screen share when the SFU lets me publish, else a raised hand. */
import { h, markBusy, rebuildKeepingFocus, stale } from "../../dom";
import { icon } from "../../icons";

export interface ControlsInput {
  /** `screen` is optional: a page without the right shows no share control. */
  rights: { mic: boolean; camera: boolean; screen?: boolean };
  micOn: boolean;
  cameraOn: boolean;
  /** Whether I am sharing my screen now. */
  screenOn?: boolean;
  raised: boolean;
  /** My raise or lower is on its way: the hand button waits for its answer (no second request). */
  handPending?: boolean;
  /** Whether the device picker (views/space/devices.ts) is open; absent: no picker on this page. */
  devicesOpen?: boolean;
  /** A speaker or a co-host, who may step down to the audience (the host hands over or ends). */
  canStepDown?: boolean;
  /** My stored role is on the stage: no hand to raise, even before the room's permission to publish
   * has come (a moment after the join showed "Request to speak" to a host, which the API refused). */
  onStage?: boolean;
}

export interface ControlsActions {
  setMic(on: boolean): void;
  setCamera(on: boolean): void;
  setScreen(on: boolean): void;
  raiseHand(up: boolean): void;
  /** Open or close the microphone/camera/speaker picker. */
  toggleDevices?(): void;
  /** Move myself to the audience. */
  stepDown?(): void;
}

/**
 * A round control. Its label says what a click does ("Mute", "Unmute"), which is all assistive
 * technology needs: `aria-pressed` beside a label that changes with the state would be read as the
 * opposite ("Mute, pressed" for a live microphone). The state is in `data-on` (styles, tests). The device picker's
 * button, whose label does not change, says whether its panel is open (`aria-expanded`).
 */
function roundButton(testid: string, on: boolean, onclick: () => void, ...content: (Node | string)[]): HTMLElement {
  return h("button", { class: `btn round ${on ? "on" : ""}`, "data-testid": testid, "data-on": on ? "true" : "false", onclick }, ...content);
}

export class ControlsView {
  readonly el = h("div", { class: "controls", "data-testid": "controls" });
  /** Keyboard focus was on a control a rebuild took away, and no control has taken it yet. */
  private focusLost = false;

  constructor(private readonly actions: ControlsActions) {}

  reset(): void {
    stale(this.el, null);
    this.focusLost = false;
  }

  /** The control the person used went with the view these controls replace (my raised hand on the
   * broadcast, when I am invited on stage): the first round control takes the focus once drawn. */
  takeFocus(): void {
    this.focusLost = true;
  }

  update(input: ControlsInput): void {
    const { rights, micOn, cameraOn, raised } = input;
    const screenOn = !!input.screenOn;
    const devicesOpen = input.devicesOpen;
    if (!stale(this.el, [rights, micOn, cameraOn, screenOn, raised, devicesOpen, !!input.handPending, !!input.canStepDown])) return;
    const active = document.activeElement;
    // Focus somewhere (still in the controls, or moved on by the person) ends a wait for a control.
    if (active && active !== document.body) this.focusLost = false;
    const focused = active instanceof HTMLElement && this.el.contains(active);
    rebuildKeepingFocus(this.el, () => this.build(input));
    if (focused && !this.el.contains(document.activeElement)) this.focusLost = true;
    // The control in use went with a change of role (a raised hand that is invited, "Leave the
    // stage"): keyboard focus lands on the first round control (microphone, hand), not the page. The
    // role and the SFU's permission come one after the other, so that control may come an update
    // later (an invited listener first has only "Leave the stage", then the microphone).
    if (this.focusLost) {
      const next = this.el.querySelector<HTMLElement>("button.round");
      if (next) {
        next.focus();
        this.focusLost = false;
      }
    }
  }

  private build(input: ControlsInput): void {
    const { rights, micOn, cameraOn, raised } = input;
    const screenOn = !!input.screenOn;
    const devicesOpen = input.devicesOpen;
    const a = this.actions;
    if (rights.mic) {
      this.el.append(roundButton("toggle-mic", micOn, () => a.setMic(!micOn), icon(micOn ? "mic" : "micOff"), micOn ? "Mute" : "Unmute"));
    }
    if (rights.camera) {
      this.el.append(
        roundButton("toggle-camera", cameraOn, () => a.setCamera(!cameraOn), icon(cameraOn ? "camera" : "cameraOff"), cameraOn ? "Stop video" : "Start video"),
      );
    }
    // Shown while sharing even if the right went (a demotion): stopping must stay possible.
    if (rights.screen || screenOn) {
      this.el.append(
        roundButton("toggle-screen", screenOn, () => a.setScreen(!screenOn), icon("screen"), screenOn ? "Stop sharing" : "Share screen"),
      );
    }
    // Which microphone, camera and speaker: for those who capture (a listener's page has no mic
    // permission, so it could not name the devices anyway).
    if ((rights.mic || rights.camera) && devicesOpen !== undefined && a.toggleDevices) {
      const toggle = a.toggleDevices.bind(a);
      const button = roundButton("toggle-devices", devicesOpen, () => toggle(), icon("sliders"), "Devices");
      button.setAttribute("aria-expanded", devicesOpen ? "true" : "false"); // its label stays "Devices"
      this.el.append(button);
    }
    if (input.canStepDown && a.stepDown) {
      const stepDown = a.stepDown.bind(a);
      this.el.append(h("button", { class: "btn", "data-testid": "step-down", onclick: () => stepDown() }, "Leave the stage"));
    }
    if (!rights.mic && !rights.camera && !input.onStage) {
      const pending = !!input.handPending;
      const hand = roundButton("raise-hand", raised, () => pending || a.raiseHand(!raised), icon("hand"), raised ? "Lower hand" : "Request to speak");
      markBusy(hand, pending);
      this.el.append(hand);
    }
  }
}
