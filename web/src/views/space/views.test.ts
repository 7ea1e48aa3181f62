// @vitest-environment happy-dom
import { describe, expect, it, vi } from "vitest";
import type { Participant } from "livekit-client";

import type { Space } from "../../api";
import { BLOCKED_CARD_MESSAGE, renderCard, renderMessage } from "./card";
import { ControlsView } from "./controls";
import { DevicesView } from "./devices";
import { HeaderView, hostAwayText, isRecorded, RECORDED_TEXT } from "./header";
import { HostPanel, type PanelInput } from "./host_panel";
import { PICTURE_ATTRIBUTE } from "../../contract.gen";
import { avatarSource, personOf } from "../../people";
import { displayName, seatRefusal, seatsLine } from "./people";
import { EMPTY_SPOTLIGHT, PRESENTING, StageView } from "./stage";

const q = (el: Element, testid: string) => el.querySelectorAll(`[data-testid="${testid}"]`);

describe("ControlsView", () => {
  const actions = () => ({ setMic: vi.fn(), setCamera: vi.fn(), setScreen: vi.fn(), raiseHand: vi.fn() });

  it("offers a raised hand to someone who may not publish, and lowers it", () => {
    const a = actions();
    const view = new ControlsView(a);
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false });
    const hand = q(view.el, "raise-hand")[0] as HTMLButtonElement;
    expect(hand.textContent).toContain("Request to speak");
    hand.click();
    expect(a.raiseHand).toHaveBeenCalledWith(true);
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: true });
    const lower = q(view.el, "raise-hand")[0];
    // Its label says what a click does; no aria-pressed beside it to read as the opposite.
    expect(lower.textContent).toContain("Lower hand");
    expect(lower.hasAttribute("aria-pressed")).toBe(false);
  });

  it("offers no hand to someone whose stored role is on the stage before the room lets them publish", () => {
    const view = new ControlsView(actions());
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, onStage: true });
    expect(q(view.el, "raise-hand")).toHaveLength(0);
    view.update({ rights: { mic: true, camera: false }, micOn: false, cameraOn: false, raised: false, onStage: true });
    expect(q(view.el, "toggle-mic")).toHaveLength(1);
  });

  it("offers a speaker or a co-host to leave the stage, and nobody else", () => {
    const a = { ...actions(), stepDown: vi.fn() };
    const view = new ControlsView(a);
    const onStage = { rights: { mic: true, camera: true }, micOn: true, cameraOn: false, raised: false };
    view.update({ ...onStage, canStepDown: true });
    const leave = q(view.el, "step-down")[0] as HTMLButtonElement;
    expect(leave.textContent).toBe("Leave the stage");
    leave.click();
    expect(a.stepDown).toHaveBeenCalledTimes(1);
    view.update({ ...onStage, canStepDown: false }); // the host: hands over or ends instead
    expect(q(view.el, "step-down")).toHaveLength(0);
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false });
    expect(q(view.el, "step-down")).toHaveLength(0);
  });

  it("puts keyboard focus on the raised hand once the person who left the stage by keyboard is off it", () => {
    const view = new ControlsView({ ...actions(), stepDown: vi.fn() });
    document.body.append(view.el);
    try {
      view.update({ rights: { mic: true, camera: false }, micOn: false, cameraOn: false, raised: false, canStepDown: true });
      (q(view.el, "step-down")[0] as HTMLButtonElement).focus();
      view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, canStepDown: false });
      expect(document.activeElement).toBe(q(view.el, "raise-hand")[0]);
    } finally {
      view.el.remove();
    }
  });

  it("keeps keyboard focus in the controls when the step down arrives in two updates (role, then permission)", () => {
    const view = new ControlsView({ ...actions(), stepDown: vi.fn() });
    document.body.append(view.el);
    try {
      view.update({ rights: { mic: true, camera: false }, micOn: false, cameraOn: false, raised: false, canStepDown: true, onStage: true });
      (q(view.el, "step-down")[0] as HTMLButtonElement).focus();
      // The API's answer (my role) comes before the SFU's permission update, as in Chromium.
      view.update({ rights: { mic: true, camera: false }, micOn: false, cameraOn: false, raised: false, canStepDown: false, onStage: false });
      expect(view.el.contains(document.activeElement)).toBe(true);
      view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, canStepDown: false, onStage: false });
      expect(document.activeElement).toBe(q(view.el, "raise-hand")[0]);
    } finally {
      view.el.remove();
    }
  });

  it("moves keyboard focus from the raised hand to the microphone when the person is invited on stage", () => {
    const view = new ControlsView(actions());
    document.body.append(view.el);
    try {
      view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: true });
      (q(view.el, "raise-hand")[0] as HTMLButtonElement).focus();
      // My stored role comes first (only "Leave the stage" then), the SFU's permission next.
      view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, onStage: true, canStepDown: true });
      view.update({ rights: { mic: true, camera: true }, micOn: false, cameraOn: false, raised: false, onStage: true, canStepDown: true });
      expect(document.activeElement).toBe(q(view.el, "toggle-mic")[0]);
    } finally {
      view.el.remove();
    }
  });

  it("marks the hand busy while its request is on its way, and ignores clicks meanwhile", () => {
    const a = actions();
    const view = new ControlsView(a);
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, handPending: true });
    const hand = q(view.el, "raise-hand")[0] as HTMLButtonElement;
    expect(hand.getAttribute("aria-busy")).toBe("true");
    expect(hand.getAttribute("aria-disabled")).toBe("true");
    hand.click();
    expect(a.raiseHand).not.toHaveBeenCalled();
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: true, handPending: false });
    const lower = q(view.el, "raise-hand")[0] as HTMLButtonElement;
    expect(lower.hasAttribute("aria-busy")).toBe(false);
    lower.click();
    expect(a.raiseHand).toHaveBeenCalledWith(false);
  });

  it("keeps keyboard focus on the control that was used when the controls are rebuilt", () => {
    const view = new ControlsView(actions());
    document.body.append(view.el);
    try {
      const input = { rights: { mic: true, camera: true }, micOn: false, cameraOn: false, raised: false };
      view.update(input);
      const unmute = q(view.el, "toggle-mic")[0] as HTMLButtonElement;
      unmute.focus();
      view.update({ ...input, micOn: true });
      const mute = q(view.el, "toggle-mic")[0] as HTMLButtonElement;
      expect(mute).not.toBe(unmute); // a new button, with its new label ...
      expect(mute.textContent).toContain("Mute");
      expect(document.activeElement).toBe(mute); // ... and the focus on it
      // Focus elsewhere on the page is left alone.
      const other = document.body.appendChild(document.createElement("button"));
      other.focus();
      view.update({ ...input, micOn: true, cameraOn: true });
      expect(document.activeElement).toBe(other);
      other.remove();
    } finally {
      view.el.remove();
    }
  });

  it("offers the device picker to those who capture, not to listeners", () => {
    const a = { ...actions(), toggleDevices: vi.fn() };
    const view = new ControlsView(a);
    view.update({ rights: { mic: false, camera: false }, micOn: false, cameraOn: false, raised: false, devicesOpen: false });
    expect(q(view.el, "toggle-devices")).toHaveLength(0);
    view.update({ rights: { mic: true, camera: false }, micOn: true, cameraOn: false, raised: false, devicesOpen: false });
    (q(view.el, "toggle-devices")[0] as HTMLButtonElement).click();
    expect(a.toggleDevices).toHaveBeenCalledTimes(1);
    view.update({ rights: { mic: true, camera: false }, micOn: true, cameraOn: false, raised: false, devicesOpen: true });
    expect(q(view.el, "toggle-devices")[0].getAttribute("aria-expanded")).toBe("true");
  });

  it("shows mic and camera by what the SFU allows", () => {
    const a = actions();
    const view = new ControlsView(a);
    view.update({ rights: { mic: true, camera: false }, micOn: true, cameraOn: false, raised: false });
    expect(q(view.el, "toggle-camera")).toHaveLength(0);
    (q(view.el, "toggle-mic")[0] as HTMLButtonElement).click();
    expect(a.setMic).toHaveBeenCalledWith(false);
    expect(q(view.el, "toggle-screen")).toHaveLength(0); // a speaker: no screen right
  });

  it("offers Share screen to whom the SFU lets share, and Stop sharing while sharing", () => {
    const a = actions();
    const view = new ControlsView(a);
    const rights = { mic: true, camera: true, screen: true };
    view.update({ rights, micOn: true, cameraOn: false, screenOn: false, raised: false });
    const share = q(view.el, "toggle-screen")[0] as HTMLButtonElement;
    expect(share.textContent).toContain("Share screen");
    share.click();
    expect(a.setScreen).toHaveBeenCalledWith(true);
    view.update({ rights, micOn: true, cameraOn: false, screenOn: true, raised: false });
    const stop = q(view.el, "toggle-screen")[0] as HTMLButtonElement;
    expect(stop.textContent).toContain("Stop sharing");
    expect(stop.hasAttribute("aria-pressed")).toBe(false);
    stop.click();
    expect(a.setScreen).toHaveBeenCalledWith(false);
    // Demoted while sharing: the right is gone, stopping is still offered.
    view.update({ rights: { mic: true, camera: true, screen: false }, micOn: true, cameraOn: false, screenOn: true, raised: false });
    expect(q(view.el, "toggle-screen")[0].textContent).toContain("Stop sharing");
  });
});

describe("HostPanel", () => {
  const input = (over: Partial<PanelInput> = {}): PanelInput => ({
    me: "h",
    myRole: "host",
    hands: ["l1"],
    members: [
      { id: "h", role: "host", micOn: true },
      { id: "s", role: "speaker", micOn: true },
    ],
    pinned: null,
    person: (id) => personOf(id, undefined, {}),
    ...over,
  });

  it("shows stage members who dropped out as away, with what still makes sense for them", () => {
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() };
    const panel = new HostPanel(a);
    const members = [
      { id: "h", role: "host" as const, micOn: true },
      { id: "c", role: "cohost" as const, micOn: false, away: true },
      { id: "s", role: "speaker" as const, micOn: false, away: true },
    ];
    panel.update(input({ members, pinned: "s" }));
    const cohost = panel.el.querySelector('[data-testid="member"][data-identity="c"]') as HTMLElement;
    expect(cohost.dataset.away).toBe("true");
    expect(cohost.textContent).toContain("away");
    expect(cohost.getAttribute("aria-label")).toBe("c, away");
    // Nothing to mute, pin or promote while they are not there; back to the audience, remove, block.
    for (const id of ["mute", "pin", "pin-screen", "make-speaker", "make-host"]) expect(q(cohost, id)).toHaveLength(0);
    (q(cohost, "demote")[0] as HTMLButtonElement).click();
    expect(a.setRole).toHaveBeenLastCalledWith("c", "listener", "cohost");
    (q(cohost, "remove")[0] as HTMLButtonElement).click();
    expect(a.remove).toHaveBeenLastCalledWith("c", false);
    expect(q(cohost, "block")).toHaveLength(1);
    // The pin is on someone who left: the host can take it off.
    const speaker = panel.el.querySelector('[data-testid="member"][data-identity="s"]') as HTMLElement;
    (q(speaker, "pin")[0] as HTMLButtonElement).click();
    expect(a.pin).toHaveBeenLastCalledWith(null);
    // A co-host sees the same rows, without the host-only unpin.
    const asCohost = new HostPanel(a);
    asCohost.update(input({ me: "x", myRole: "cohost", members, pinned: "s" }));
    expect(q(asCohost.el.querySelector('[data-identity="s"]')!, "pin")).toHaveLength(0);
    expect(q(asCohost.el.querySelector('[data-identity="s"]')!, "demote")).toHaveLength(1);
  });

  it("lists raised hands with an invite, and the host's buttons for a speaker", () => {
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() };
    const panel = new HostPanel(a);
    panel.update(input());
    expect(panel.el.hidden).toBe(false);
    expect(q(panel.el, "hand-count")[0].textContent).toBe("1");
    (q(panel.el, "hand")[0].querySelector('[data-testid="invite"]') as HTMLButtonElement).click();
    // Each change names the role the row showed: out of date, the API refuses it instead of applying it.
    expect(a.setRole).toHaveBeenCalledWith("l1", "speaker", "listener");
    const speaker = panel.el.querySelector('[data-testid="member"][data-identity="s"]')!;
    for (const id of ["mute", "make-cohost", "demote", "remove", "block", "pin"]) expect(q(speaker, id)).toHaveLength(1);
    (q(speaker, "make-cohost")[0] as HTMLButtonElement).click();
    expect(a.setRole).toHaveBeenLastCalledWith("s", "cohost", "speaker");
    (q(speaker, "demote")[0] as HTMLButtonElement).click();
    expect(a.setRole).toHaveBeenLastCalledWith("s", "listener", "speaker");
    const host = panel.el.querySelector('[data-testid="member"][data-identity="h"]')!;
    expect(q(host, "remove")).toHaveLength(0);
    // Listeners are hidden in the room: the store-backed list (listeners.ts) is the only one.
    expect(q(panel.el, "listener")).toHaveLength(0);
  });

  it("offers moderators a way to the panel from the controls, counting the raised hands", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    document.body.append(panel.el, panel.jump);
    panel.el.scrollIntoView = vi.fn();
    panel.update(input({ hands: ["l1", "l2"] }));
    expect(panel.jump.hidden).toBe(false);
    expect(panel.jump.textContent).toBe("Requests to speak (2)");
    panel.jump.click();
    expect(panel.el.scrollIntoView).toHaveBeenCalled();
    expect(document.activeElement?.textContent).toMatch(/^Requests to speak/);
    panel.update(input({ hands: [] }));
    expect(panel.jump.textContent).toBe("Host panel");
    panel.update(input({ me: "s", myRole: "speaker" }));
    expect(panel.jump.hidden).toBe(true);
    panel.el.remove();
    panel.jump.remove();
  });

  it("makes each row a group named for its person, so a screen reader says whose Block it is", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    panel.update(input({ person: (id) => personOf(id, undefined, { l1: "Lee Listener", s: "Sam Speaker", h: "Hana" }) }));
    const hand = panel.el.querySelector('[data-testid="hand"][data-identity="l1"]')!;
    expect([hand.getAttribute("role"), hand.getAttribute("aria-label")]).toEqual(["group", "Lee Listener"]);
    const member = panel.el.querySelector('[data-testid="member"][data-identity="s"]')!;
    expect([member.getAttribute("role"), member.getAttribute("aria-label")]).toEqual(["group", "Sam Speaker"]);
  });

  it("lets the host pin a live screen share, and unpin it", () => {
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() };
    const panel = new HostPanel(a);
    const members = [
      { id: "h", role: "host" as const, micOn: true },
      { id: "c", role: "cohost" as const, micOn: true, screenOn: true },
      { id: "s", role: "speaker" as const, micOn: true },
    ];
    panel.update(input({ members }));
    const row = (id: string) => panel.el.querySelector(`[data-testid="member"][data-identity="${id}"]`)!;
    expect(q(row("h"), "pin-screen")).toHaveLength(0); // not sharing
    expect(q(row("s"), "pin-screen")).toHaveLength(0);
    const pinScreen = q(row("c"), "pin-screen")[0] as HTMLButtonElement;
    expect(pinScreen.textContent).toBe("Pin screen");
    pinScreen.click();
    expect(a.pin).toHaveBeenCalledWith("c", "screen_share");
    // Pinned (the share may have stopped meanwhile): Unpin screen, and the camera Pin stays a camera pin.
    panel.update(input({ members: members.map((m) => ({ ...m, screenOn: false })), pinned: "c", pinnedSource: "screen_share" }));
    const unpin = q(row("c"), "pin-screen")[0] as HTMLButtonElement;
    expect(unpin.textContent).toBe("Unpin screen");
    unpin.click();
    expect(a.pin).toHaveBeenLastCalledWith(null);
    (q(row("c"), "pin")[0] as HTMLButtonElement).click();
    expect(a.pin).toHaveBeenLastCalledWith("c");
    // Co-hosts do not pin.
    panel.update(input({ me: "c", myRole: "cohost", members }));
    expect(q(panel.el, "pin-screen")).toHaveLength(0);
    expect(q(panel.el, "pin")).toHaveLength(0); // nor the camera: the API would refuse them
  });

  it("is hidden and empty for anyone but the host and co-hosts", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    panel.update(input({ myRole: "speaker" }));
    expect(panel.el.hidden).toBe(true);
    expect(panel.el.textContent).toBe(""); // nothing of the panel is drawn
  });

  it("the host can hand the Space to a co-host, and only the host", () => {
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn(), handOver: vi.fn() };
    const panel = new HostPanel(a);
    const members = [
      { id: "h", role: "host" as const, micOn: true },
      { id: "c", role: "cohost" as const, micOn: true },
      { id: "s", role: "speaker" as const, micOn: true },
    ];
    panel.update(input({ members }));
    expect(q(panel.el, "make-host")).toHaveLength(1);
    (panel.el.querySelector('[data-identity="c"] [data-testid="make-host"]') as HTMLButtonElement).click();
    expect(a.handOver).toHaveBeenCalledWith("c");
    panel.update(input({ me: "c", myRole: "cohost", members }));
    expect(q(panel.el, "make-host")).toHaveLength(0);
  });

  it("offers a co-host nothing to do to another co-host, which the API would refuse", () => {
    const members = [
      { id: "h", role: "host" as const, micOn: true },
      { id: "c", role: "cohost" as const, micOn: true },
      { id: "d", role: "cohost" as const, micOn: true, away: true },
      { id: "s", role: "speaker" as const, micOn: true },
    ];
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    panel.update(input({ me: "x", myRole: "cohost", members }));
    for (const id of ["c", "d"]) {
      const row = panel.el.querySelector(`[data-testid="member"][data-identity="${id}"]`)!;
      for (const control of ["mute", "demote", "remove", "block"]) expect(q(row, control)).toHaveLength(0);
    }
    const speaker = panel.el.querySelector('[data-testid="member"][data-identity="s"]')!;
    for (const control of ["mute", "demote", "remove", "block"]) expect(q(speaker, control)).toHaveLength(1);
    // The host moderates co-hosts.
    panel.update(input({ members }));
    const cohost = panel.el.querySelector('[data-testid="member"][data-identity="c"]')!;
    for (const control of ["mute", "demote", "remove", "block"]) expect(q(cohost, control)).toHaveLength(1);
  });

  it("keeps keyboard focus in the person's row when the control used is gone", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    document.body.append(panel.el);
    panel.update(input());
    const speaker = () => panel.el.querySelector('[data-testid="member"][data-identity="s"]')!;
    (q(speaker(), "mute")[0] as HTMLButtonElement).focus();
    // Muted: the Mute button goes; focus stays with the speaker's row.
    panel.update(input({ members: [{ id: "h", role: "host", micOn: true }, { id: "s", role: "speaker", micOn: false }] }));
    expect(document.activeElement).toBe(speaker().querySelector("button"));
    // Moved to the audience: the row goes; focus goes to the panel's first heading, not the page.
    panel.update(input({ members: [{ id: "h", role: "host", micOn: true }] }));
    expect(document.activeElement?.tagName).toBe("H2");
    panel.el.remove();
  });

  it("marks a move with no free seat unavailable, saying why, and still hands the click to the page", () => {
    const a = { setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() };
    const panel = new HostPanel(a);
    const members = [
      { id: "h", role: "host" as const, micOn: true },
      { id: "c", role: "cohost" as const, micOn: true },
      { id: "s", role: "speaker" as const, micOn: true },
    ];
    // One speaker seat, taken by "s"; co-host seats free.
    const stage = { cohosts: ["c"], speakers: ["s"], seats: { cohosts: 2, speakers: 1 } };
    panel.update(input({ members, seatRefusal: (id, role) => seatRefusal(stage, id, role), seats: seatsLine(stage) }));
    expect(q(panel.el, "seats")[0].textContent).toBe("1 of 1 speakers · 1 of 2 co-hosts");
    const invite = q(panel.el, "hand")[0].querySelector('[data-testid="invite"]') as HTMLButtonElement;
    expect(invite.getAttribute("aria-disabled")).toBe("true");
    expect(invite.title).toContain("stage is full");
    // Focusable still (not `disabled`): the page's action tells the reason on a click.
    expect(invite.disabled).toBe(false);
    invite.click();
    expect(a.setRole).toHaveBeenLastCalledWith("l1", "speaker", "listener");
    // The co-host needs the speaker seat "s" holds; the speaker may take a free co-host seat.
    const make = (id: string, testid: string) => q(panel.el.querySelector(`[data-identity="${id}"]`)!, testid)[0];
    expect(make("c", "make-speaker").getAttribute("aria-disabled")).toBe("true");
    expect(make("s", "make-cohost").hasAttribute("aria-disabled")).toBe(false);
    // Without the API's seats (an older control plane) nothing is marked and no line is shown.
    panel.update(input({ members }));
    expect(q(panel.el, "seats")).toHaveLength(0);
    expect(q(panel.el, "invite")[0].hasAttribute("aria-disabled")).toBe(false);
  });

  it("a co-host cannot make co-hosts", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    panel.update(input({ me: "c", myRole: "cohost" }));
    expect(q(panel.el, "make-cohost")).toHaveLength(0);
  });
});

describe("HeaderView", () => {
  it("shows the audience, my role, and End only for the host", () => {
    const view = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    view.update({ title: "T", listeners: 1200, myRole: "speaker" }, { kind: "none" });
    expect(q(view.header, "listener-count")[0].textContent).toBe("1200");
    expect(q(view.header, "my-role")[0].textContent).toBe("Speaker");
    expect(q(view.header, "end-space")).toHaveLength(0);
    view.update({ title: "T", listeners: 1200, myRole: "host" }, { kind: "none" });
    expect(q(view.header, "end-space")).toHaveLength(1);
    expect(view.banner.hidden).toBe(true);
  });

  it("asks to sign in again in the banner, leaving the rest alone", () => {
    const signIn = vi.fn();
    const view = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    view.update({ title: "T", listeners: 0, myRole: "listener" }, { kind: "sign-in-again", signIn });
    expect(view.banner.hidden).toBe(false);
    (q(view.banner, "sign-in-again")[0] as HTMLButtonElement).click();
    expect(signIn).toHaveBeenCalled();
    view.update({ title: "T", listeners: 0, myRole: "listener" }, { kind: "reconnecting" });
    expect(view.banner.dataset.testid).toBe("reconnecting");
  });

  it("marks a recorded Space for everyone in it, and says what that means", () => {
    const view = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    view.update({ title: "T", listeners: 3, myRole: "speaker", recorded: true }, { kind: "none" });
    const [badge] = q(view.header, "recorded");
    expect(badge.textContent).toBe("REC");
    expect(badge.getAttribute("aria-label")).toBe(RECORDED_TEXT);
    view.update({ title: "T", listeners: 3, myRole: "speaker", recorded: false }, { kind: "none" });
    expect(q(view.header, "recorded")).toHaveLength(0);
    // Recorded: a Space with a broadcast whose host did not turn the recording off (an older API
    // sends no `record`, and kept every broadcast); nothing without a broadcast tier.
    expect(isRecorded({ broadcast: { playlist_url: "u" } })).toBe(true);
    expect(isRecorded({ broadcast: { playlist_url: "u" }, record: true })).toBe(true);
    expect(isRecorded({ broadcast: { playlist_url: "u" }, record: false })).toBe(false);
    expect(isRecorded({ broadcast: null, record: true })).toBe(false);
    expect(isRecorded(null)).toBe(false);
  });

  it("tells the room when the Space ends while its host is away, and nothing once they are back", () => {
    const view = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    const until = new Date(2026, 11, 5, 14, 5).getTime();
    view.update({ title: "T", listeners: 3, myRole: "cohost", hostAwayUntil: until }, { kind: "none" });
    expect(view.hostAway.hidden).toBe(false);
    expect(view.hostAway.textContent).toBe(hostAwayText(until));
    expect(view.hostAway.textContent).toContain(new Date(until).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    view.update({ title: "T", listeners: 3, myRole: "cohost", hostAwayUntil: null }, { kind: "none" });
    expect(view.hostAway.hidden).toBe(true);
  });
});

/** What StageView.update takes, for a spotlight `big` and a `strip`; "name of <id>" for names. */
function stageInput(big: string | null, strip: string[], speaking = new Map<string, number>()) {
  return {
    layout: { big, bigVideo: false, bigSource: "camera" as const, strip, speaking, pinned: null, pinHolds: false },
    seq: 3,
    spotlight: big,
    hasStage: true,
    me: "a",
    participant: () => undefined,
    name: (id: string) => `name of ${id}`,
    person: (id: string) => personOf(id, undefined, {}),
  };
}

describe("StageView", () => {
  it("puts the spotlight in the big tile and the rest in the strip, in order", () => {
    const view = new StageView();
    const input = (big: string, strip: string[]) => stageInput(big, strip, new Map([[big, 0.5]]));
    view.update(input("a", ["b", "c"]));
    expect(view.bigTile.dataset.identity).toBe("a");
    expect(view.bigTile.dataset.speaking).toBe("true");
    expect([...view.strip.children].map((t) => (t as HTMLElement).dataset.identity)).toEqual(["b", "c"]);
    view.update(input("b", ["a", "c"]));
    expect([...view.strip.children].map((t) => (t as HTMLElement).dataset.identity)).toEqual(["a", "c"]);
    expect(q(view.bigTile, "spotlight-name")[0].textContent).toBe("name of b");
  });

  it("says nobody is in the spotlight, not that nobody has spoken, once its holder left", () => {
    const view = new StageView();
    const input = (big: string | null, strip: string[]) => stageInput(big, strip);
    view.update(input("b", ["a"]));
    expect(q(view.bigTile, "spotlight-empty")).toHaveLength(0);
    view.update(input(null, ["a"])); // b spoke, then left: the agent names nobody
    expect(q(view.bigTile, "spotlight-empty")[0].textContent).toBe(EMPTY_SPOTLIGHT);
    expect(view.bigTile.textContent).not.toContain("spoken");
  });

  it("says when the big tile is a pinned screen share", () => {
    const view = new StageView();
    view.update({
      layout: { big: "h", bigVideo: true, bigSource: "screen_share", strip: ["h", "s"], speaking: new Map(), pinned: "h", pinHolds: true },
      seq: 4,
      spotlight: "h",
      hasStage: true,
      me: "x",
      participant: () => undefined,
      name: (id: string) => `name of ${id}`,
      person: (id: string) => personOf(id, undefined, {}),
    });
    expect(view.bigTile.dataset.source).toBe("screen_share");
    expect(view.bigTile.dataset.pinned).toBe("h");
    expect(q(view.bigTile, "spotlight-name")[0].textContent).toContain("screen pinned");
    expect([...view.strip.children].map((t) => (t as HTMLElement).dataset.identity)).toEqual(["h", "s"]);
    expect(view.strip.children[0].classList.contains("pinned")).toBe(true);
  });

  it("tells the presenter rather than showing her own screen back to her", () => {
    const screen = { source: "screen_share", attach: vi.fn(), detach: vi.fn() };
    const hana = { getTrackPublication: (source: string) => (source === "screen_share" ? { isMuted: false, track: screen } : undefined) };
    const shown = (me: string) => ({
      ...stageInput("h", ["s"]),
      layout: { big: "h", bigVideo: true, bigSource: "screen_share" as const, strip: ["h", "s"], speaking: new Map(), pinned: "h", pinHolds: true },
      me,
      participant: (id: string) => (id === "h" ? (hana as unknown as Participant) : undefined),
    });
    const mine = new StageView();
    mine.update(shown("h"));
    expect(mine.bigTile.dataset.presenting).toBe("true");
    expect(mine.bigTile.dataset.video).toBe("off");
    expect(screen.attach).not.toHaveBeenCalled();
    expect(q(mine.bigTile, "presenting")[0].textContent).toContain(PRESENTING);
    // Everyone else: her screen plays, and no card.
    const theirs = new StageView();
    theirs.update(shown("s"));
    expect(theirs.bigTile.dataset.presenting).toBe("false");
    expect(theirs.bigTile.dataset.video).toBe("on");
    expect(screen.attach).toHaveBeenCalledTimes(1);
    expect(q(theirs.bigTile, "presenting")).toHaveLength(0);
  });

  it("takes a new video's shape from its track at once, not from the last video's", () => {
    // The size is the publication's (a remote track does not know it before its first frame).
    const camera = (width: number, height: number) => ({ isMuted: false, dimensions: { width, height }, track: { source: "camera", attach: vi.fn(), detach: vi.fn() } });
    const cameras: Record<string, ReturnType<typeof camera>> = { p: camera(360, 640), l: camera(960, 540) };
    const person = (id: string) => ({ getTrackPublication: (source: string) => (source === "camera" ? cameras[id] : undefined) });
    const view = new StageView();
    const shown = (big: string) => ({
      ...stageInput(big, []),
      layout: { big, bigVideo: true, bigSource: "camera" as const, strip: [], speaking: new Map(), pinned: null, pinHolds: false },
      participant: (id: string) => person(id) as unknown as Participant,
    });
    view.update(shown("p"));
    expect(view.bigTile.dataset.shape).toBe("portrait");
    view.update(shown("l"));
    expect(view.bigTile.dataset.shape).toBe("landscape");
  });

  it("does not call a screen pin whose share stopped pinned, on the big tile or in the strip", () => {
    const view = new StageView();
    // Hana pinned her screen and stopped sharing: her camera is large because she spoke last.
    const dormant = (big: string, strip: string[]) => ({
      ...stageInput(big, strip),
      layout: { big, bigVideo: true, bigSource: "camera" as const, strip, speaking: new Map(), pinned: "h", pinHolds: false },
    });
    view.update(dormant("h", ["s"]));
    expect(view.bigTile.dataset.pinned).toBe("h"); // the agent's pin, as it is
    expect(view.bigTile.classList.contains("pinned")).toBe(false);
    expect(q(view.bigTile, "spotlight-name")[0].textContent).toBe("name of h");
    view.update(dormant("s", ["h"]));
    expect(view.strip.children[0].classList.contains("pinned")).toBe(false);
  });
});

describe("card", () => {
  const space: Space = { id: "s1", title: "Morning", state: "scheduled", host: "h", cohosts: [], speakers: [], video: "off", listener_count: 0, raised_hands: [] };

  it("says an ended Space ended once, without the refused join's own words, and a live one's refusal", () => {
    const el = document.createElement("section");
    renderCard(el, { ...space, state: "ended" }, "h", "This Space is not live.", { start: vi.fn(), join: vi.fn() });
    expect(q(el, "space-message")[0].textContent).toBe("This Space has ended.");
    expect(q(el, "join-error")[0].textContent).toBe("");
    renderCard(el, { ...space, state: "live" }, "h", "The stage is full.", { start: vi.fn(), join: vi.fn() });
    expect(q(el, "join-error")[0].textContent).toBe("The stage is full.");
  });

  it("lets the host start a scheduled Space and others wait", () => {
    const el = document.createElement("section");
    const start = vi.fn();
    renderCard(el, space, "h", "", { start, join: vi.fn() });
    (q(el, "start-space")[0] as HTMLButtonElement).click();
    expect(start).toHaveBeenCalled();
    const other = document.createElement("section");
    renderCard(other, space, "x", "", { start, join: vi.fn() });
    expect(q(other, "space-message")[0].textContent).toContain("not started");
    expect(q(other, "space-starts")).toHaveLength(0); // no time was set
    // A time set: both say when, in the reader's zone.
    const at = "2026-12-06T15:30:00Z";
    const timed = { ...space, scheduled_start: at };
    for (const me of ["h", "x"]) {
      const card = document.createElement("section");
      renderCard(card, timed, me, "", { start: vi.fn(), join: vi.fn() });
      expect(q(card, "space-starts")[0].textContent).toBe(`Scheduled for ${new Date(at).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })}`);
    }
  });

  it("sends one start for a double click, and offers the host (only) a Cancel", async () => {
    const el = document.createElement("section");
    let started: () => void = () => undefined;
    const start = vi.fn(() => new Promise<void>((resolve) => (started = resolve)));
    const cancel = vi.fn();
    renderCard(el, space, "h", "", { start, join: vi.fn(), cancel });
    const button = q(el, "start-space")[0] as HTMLButtonElement;
    button.click();
    await vi.waitFor(() => expect(start).toHaveBeenCalledTimes(1));
    expect(button.getAttribute("aria-busy")).toBe("true");
    button.click(); // the double click's second half: no second POST /start
    await Promise.resolve();
    expect(start).toHaveBeenCalledTimes(1);
    started();
    await vi.waitFor(() => expect(button.hasAttribute("aria-busy")).toBe(false));
    (q(el, "cancel-space")[0] as HTMLButtonElement).click();
    await vi.waitFor(() => expect(cancel).toHaveBeenCalledTimes(1));
    const other = document.createElement("section");
    renderCard(other, space, "x", "", { start, join: vi.fn(), cancel });
    expect(q(other, "cancel-space")).toHaveLength(0);
  });

  it("tells a blocked person so instead of offering a Join the API would refuse", () => {
    const join = vi.fn();
    for (const state of ["live", "scheduled"] as const) {
      const el = document.createElement("section");
      renderCard(el, { ...space, state, caller_blocked: true }, "x", "", { start: vi.fn(), join });
      expect(q(el, "join-space")).toHaveLength(0);
      expect(q(el, "start-space")).toHaveLength(0);
      expect(q(el, "space-message")[0].textContent).toBe(BLOCKED_CARD_MESSAGE);
    }
    // Ended: the end is what matters (and its replay, when kept).
    const ended = document.createElement("section");
    renderCard(ended, { ...space, state: "ended", caller_blocked: true }, "x", "", { start: vi.fn(), join });
    expect(q(ended, "space-message")[0].textContent).toContain("ended");
    // Not blocked: Join.
    const live = document.createElement("section");
    renderCard(live, { ...space, state: "live", caller_blocked: false }, "x", "", { start: vi.fn(), join });
    (q(live, "join-space")[0] as HTMLButtonElement).click();
    expect(join).toHaveBeenCalled();
  });

  it("offers the same ways on from an ended Space's card as from the message a room's end leaves", () => {
    const ended: Space = {
      ...space,
      state: "ended",
      broadcast: { playlist_url: "https://cdn.example/s1/index.m3u8", timeline_url: "https://cdn.example/s1/timeline.json" },
      recording_available_until: new Date(Date.now() + 86_400_000).toISOString(),
    };
    const ways = (el: HTMLElement) => [...el.querySelectorAll("a")].map((a) => a.textContent);
    // The card an HLS viewer's page shows once the end is read, and the message a room's end leaves.
    const card = document.createElement("section");
    renderCard(card, ended, "x", "", { start: vi.fn(), join: vi.fn() });
    const message = document.createElement("section");
    renderMessage(message, "This Space has ended.", ended, null);
    expect(ways(card)).toEqual(["Back to Spaces", "Replay"]);
    expect(ways(message)).toEqual(ways(card));
    // No recording kept: the way back still.
    const gone = document.createElement("section");
    renderCard(gone, { ...ended, recording_available_until: null }, "x", "", { start: vi.fn(), join: vi.fn() });
    expect(ways(gone)).toEqual(["Back to Spaces"]);
  });

  it("starts a keyboard or screen-reader user at the message that replaced their controls", () => {
    const el = document.body.appendChild(document.createElement("section"));
    try {
      const control = el.appendChild(document.createElement("button"));
      control.focus();
      renderMessage(el, "You left the Space.", null, vi.fn());
      const message = q(el, "space-message")[0];
      expect(document.activeElement).toBe(message);
      expect(message.getAttribute("role")).toBe("status");
    } finally {
      el.remove();
    }
  });

  it("offers a rejoin only when one is possible", () => {
    const el = document.createElement("section");
    renderMessage(el, "You left the Space.", null, vi.fn());
    expect(q(el, "rejoin")).toHaveLength(1);
    renderMessage(el, "This Space has ended.", null, null);
    expect(q(el, "rejoin")).toHaveLength(0);
  });

  it("names its one action as asked (a failed read offers to try again)", () => {
    const el = document.createElement("section");
    const again = vi.fn();
    renderMessage(el, "Could not load the Space: busy", null, again, "Try again");
    const [button] = q(el, "rejoin");
    expect(button.textContent).toBe("Try again");
    (button as HTMLButtonElement).click();
    expect(again).toHaveBeenCalledOnce();
  });
});

describe("names and faces, not ids", () => {
  const NAMES = { l1: "Lee Listener", s: "Sam Speaker", h: "Hana Host" };
  const hostile = '<img src=x onerror="window.pwned=1">';

  it("the host panel shows the names of hands, members and listeners, as text", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    const names = { ...NAMES, anon2: hostile };
    panel.update({
      me: "h",
      myRole: "host",
      hands: ["l1", "anon", "anon2"],
      members: [
        { id: "h", role: "host", micOn: true },
        { id: "s", role: "speaker", micOn: true },
      ],
      pinned: null,
      person: (id) => personOf(id, undefined, names),
    });
    const who = (row: Element) => row.querySelector('[data-testid="who"]')!.textContent;
    const hands = [...q(panel.el, "hand")];
    expect(hands.map(who)).toEqual(["Lee Listener", "anon", hostile]); // no name known: the id
    expect(hands[0].querySelector('[data-testid="avatar"]')!.textContent).toBe("LL");
    expect(who(panel.el.querySelector('[data-identity="s"]')!)).toBe("Sam Speaker Speaker");
    expect(who(hands[2])).toBe(hostile); // shown as text ...
    expect(hands[2].querySelector("img")).toBeNull(); // ... never parsed as HTML
  });

  it("redraws the panel when only a name arrives", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    const base = { me: "h", myRole: "host" as const, hands: ["l1"], members: [], pinned: null };
    panel.update({ ...base, person: (id) => personOf(id, undefined, {}) });
    expect(q(panel.el, "who")[0].textContent).toBe("l1");
    panel.update({ ...base, person: (id) => personOf(id, undefined, NAMES) });
    expect(q(panel.el, "who")[0].textContent).toBe("Lee Listener");
  });

  it("the stage shows each tile's name and face; a picture only from https", () => {
    const view = new StageView();
    const seen: Record<string, { name: string; attributes: Record<string, string> }> = {
      a: { name: "Ada", attributes: { [PICTURE_ATTRIBUTE]: "https://img.example/ada.png" } },
      b: { name: "Bo Bell", attributes: { [PICTURE_ATTRIBUTE]: "javascript:alert(1)" } },
    };
    const person = (id: string) => personOf(id, seen[id], { c: "Cy Cohost" });
    view.update({
      layout: { big: "a", bigVideo: false, bigSource: "camera", strip: ["b", "c"], speaking: new Map(), pinned: null, pinHolds: false },
      seq: 1,
      spotlight: "a",
      hasStage: true,
      me: "c",
      participant: () => undefined,
      name: (id) => displayName(person(id), "c", null),
      person,
    });
    expect(q(view.bigTile, "spotlight-name")[0].textContent).toBe("Ada");
    const big = view.bigTile.querySelector("img")!;
    expect(big.getAttribute("src")).toBe(avatarSource("https://img.example/ada.png"));
    const tiles = [...q(view.strip, "tile")];
    expect(tiles.map((t) => t.querySelector('[data-testid="tile-name"]')!.textContent)).toEqual(["Bo Bell", "Cy Cohost (you)"]);
    expect(tiles[0].querySelector("img")).toBeNull(); // not an https URL: initials instead
    expect(tiles[0].querySelector('[data-testid="avatar"]')!.textContent).toBe("BB");
  });

  it("the card names the host", () => {
    const el = document.createElement("section");
    const space: Space = { id: "s1", title: "T", state: "live", host: "u-9f1c", cohosts: [], speakers: [], video: "off", listener_count: 0, raised_hands: [], names: { "u-9f1c": "Hana Host" } };
    renderCard(el, space, "x", "", { start: vi.fn(), join: vi.fn() });
    expect(q(el, "host-name")[0].textContent).toBe("Hosted by Hana Host");
    expect(el.querySelector('[data-testid="avatar"] img')).toBeNull();
    // The host's face, once the Space carries it.
    renderCard(el, { ...space, pictures: { "u-9f1c": "https://img.example/hana.png" } }, "x", "", { start: vi.fn(), join: vi.fn() });
    expect(el.querySelector('[data-testid="avatar"] img')?.getAttribute("src")).toBe(avatarSource("https://img.example/hana.png"));
  });
});

describe("DevicesView", () => {
  it("shows the device still in use after a switch the browser refused", async () => {
    const list = [{ deviceId: "mic-a", label: "Built-in" }, { deviceId: "mic-b", label: "Headset" }];
    const source = { devices: async () => list, activeDevice: () => "mic-a" };
    // The page's choice handler: the switch fails (nothing saved), and the page draws again.
    const view: DevicesView = new DevicesView(() => view.update(source, ["audioinput"]), () => ({}));
    view.update(source, ["audioinput"]);
    view.toggle();
    const select = () => view.el.querySelector("select") as HTMLSelectElement;
    await vi.waitFor(() => expect(select()?.value).toBe("mic-a"));
    select().value = "mic-b";
    select().dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(select().value).toBe("mic-a"));
  });
});


describe("pinNotice and handOverNotice", () => {
  it("say what the big tile and the camera do when that is not what a host would expect", async () => {
    const { handOverNotice, pinNotice } = await import("./people");
    const at = { pinned: "ali", cameras: ["hana"], video: "speakers" as const, host: "hana" };
    expect(pinNotice("Ali", at)).toBe("Ali pinned. Their camera is off, so the big tile keeps the last camera on until they turn theirs on");
    expect(pinNotice("Ali", { ...at, cameras: ["hana", "ali"] })).toBe("Ali pinned");
    expect(pinNotice("Ali", { ...at, cameras: [] })).toBe("Ali pinned"); // no camera at all: their face fills it
    expect(pinNotice("Ali", { ...at, video: "host" })).toBe("Ali pinned. Only the host's camera is shown in this Space, so the big tile keeps it");
    expect(handOverNotice("Bob", "speakers")).toBe("Bob is now the host; you are a co-host");
    expect(handOverNotice("Bob", "host")).toBe("Bob is now the host; you are a co-host. Only the host's camera is shown in this Space, so yours is off");
  });
});

describe("HandNotices", () => {
  it("tells a new hand, but not one lowered less than HAND_RETOLD_AFTER_MS ago (a reload is not news)", async () => {
    const { HandNotices, HAND_RETOLD_AFTER_MS } = await import("./people");
    const notices = new HandNotices();
    expect(notices.fresh(["lena", "carl"], 0)).toEqual(["lena", "carl"]);
    // Lena's hand has been up for ten minutes when she reloads: down on pagehide, up again.
    notices.lowered(["lena"], 600_000);
    expect(notices.fresh(["lena", "mia"], 601_000)).toEqual(["mia"]);
    notices.lowered(["carl"], 700_000);
    expect(notices.fresh(["carl"], 700_000 + HAND_RETOLD_AFTER_MS)).toEqual(["carl"]);
  });
});

describe("handsNotice", () => {
  it("names the first new hand and counts the rest", async () => {
    const { handsNotice } = await import("./people");
    expect(handsNotice(["u1"], { u1: "Lena" })).toBe("Lena asked to speak");
    expect(handsNotice(["u1", "u2"], { u1: "Lena" })).toBe("Lena and 1 other asked to speak");
    expect(handsNotice(["u9", "u2", "u3"], {})).toBe("u9 and 2 others asked to speak");
  });
});

describe("roleNotice", () => {
  it("tells someone what a moderator made of them, and nothing about their own doing", async () => {
    const { roleNotice } = await import("./people");
    expect(roleNotice("cohost", "host")).toContain("now the host");
    expect(roleNotice("listener", "speaker")).toContain("turn on your microphone");
    expect(roleNotice("speaker", "cohost")).toContain("co-host");
    expect(roleNotice("cohost", "speaker")).toContain("no longer a co-host");
    expect(roleNotice("speaker", "listener")).toContain("back to the audience");
    expect(roleNotice("speaker", "speaker")).toBeNull();
    // The host who handed the Space over was told by their own action.
    expect(roleNotice("host", "cohost")).toBeNull();
  });
});

describe("seatRefusal", () => {
  const stage = (cohosts: string[], speakers: string[], seats = { cohosts: 2, speakers: 3 }) => ({ cohosts, speakers, seats });

  it("refuses a move only when every seat of that role is someone else's, as the API does", () => {
    expect(seatRefusal(stage([], ["a", "b"]), "x", "speaker")).toBeNull();
    expect(seatRefusal(stage([], ["a", "b", "c"]), "x", "speaker")).toContain("stage is full (3 speakers)");
    // Their own seat is not someone else's: a repeat of their move is the API's no-op.
    expect(seatRefusal(stage([], ["a", "b", "c"]), "a", "speaker")).toBeNull();
    expect(seatRefusal(stage(["c1", "c2"], []), "x", "cohost")).toBe("Both co-host seats are taken: make a co-host a speaker first.");
    expect(seatRefusal(stage(["c1"], [], { cohosts: 1, speakers: 3 }), "x", "cohost")).toContain("The co-host seat is taken");
    // Seats unknown (an older control plane): offered, and the API's answer says.
    expect(seatRefusal({ cohosts: ["c1", "c2"], speakers: [] }, "x", "cohost")).toBeNull();
  });

  it("counts the speaker seats held by invitations not answered yet, not the co-host seats", () => {
    expect(seatRefusal(stage([], ["a"]), "x", "speaker", 1)).toBeNull();
    expect(seatRefusal(stage([], ["a"]), "x", "speaker", 2)).toContain("stage is full (3 speakers, 2 of them held by invitations not answered yet)");
    expect(seatRefusal(stage([], ["a", "b"]), "x", "speaker", 1)).toContain("held by an invitation");
    expect(seatRefusal(stage(["c1"], []), "x", "cohost", 3)).toBeNull();
    expect(seatsLine(stage([], ["a"]), 2)).toBe("1 of 3 speakers (2 invited) · 0 of 2 co-hosts");
  });

  it("says how full the stage is", () => {
    expect(seatsLine(stage(["c"], ["a", "b"]))).toBe("2 of 3 speakers · 1 of 2 co-hosts");
    expect(seatsLine({ cohosts: [], speakers: [] })).toBe("");
  });
});

describe("screenShareNotice", () => {
  it("tells the host how to show their screen, and a co-host who will", async () => {
    const { screenShareNotice } = await import("./people");
    expect(screenShareNotice("host")).toContain("Pin screen");
    expect(screenShareNotice("cohost")).toContain("once the host pins it");
  });
});

describe("keyboard focus across redraws", () => {
  const members = [
    { id: "h", role: "host" as const, micOn: true },
    { id: "s1", role: "speaker" as const, micOn: true },
    { id: "s2", role: "speaker" as const, micOn: false },
  ];
  const panelInput = (hands: string[], micOn: boolean): PanelInput => ({
    me: "h",
    myRole: "host",
    hands,
    members: members.map((m) => (m.id === "s2" ? { ...m, micOn } : m)),
    pinned: null,
    person: (id) => personOf(id, undefined, {}),
  });

  it("keeps a moderator's focus on the same person's button when the panel redraws", () => {
    const panel = new HostPanel({ setRole: vi.fn(), remove: vi.fn(), mute: vi.fn(), pin: vi.fn() });
    document.body.append(panel.el);
    try {
      panel.update(panelInput(["l1"], false));
      const row = () => panel.el.querySelector('[data-testid="member"][data-identity="s2"]')!;
      (row().querySelector('[data-testid="block"]') as HTMLElement).focus();
      // A second hand goes up and s2's mic goes on: the whole panel is rebuilt.
      panel.update(panelInput(["l1", "l2"], true));
      expect(document.activeElement).toBe(row().querySelector('[data-testid="block"]'));
      expect(document.activeElement).not.toBe(panel.el.querySelector('[data-testid="member"][data-identity="s1"] [data-testid="block"]'));
    } finally {
      panel.el.remove();
    }
  });

  it("keeps the focus on the heading a join put it on when the listener count changes", () => {
    const header = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    document.body.append(header.header);
    try {
      header.update({ title: "T", listeners: 1, myRole: "listener", hostAwayUntil: null }, { kind: "none" });
      header.header.querySelector("h1")!.focus();
      expect(document.activeElement).toBe(header.header.querySelector("h1"));
      header.update({ title: "T", listeners: 2, myRole: "listener", hostAwayUntil: null }, { kind: "none" });
      expect(document.activeElement).toBe(header.header.querySelector("h1"));
    } finally {
      header.header.remove();
    }
  });

  it("moves the focus to the message when an ended Space's card replaces what had it", () => {
    const el = document.createElement("section");
    document.body.append(el);
    try {
      // The broadcast ended: its message had the focus (renderMessage), and the card with the
      // Replay the API's answer offers replaces it.
      renderMessage(el, "This Space has ended.", null, null);
      expect(document.activeElement).toBe(q(el, "space-message")[0]);
      const ended: Space = { id: "s1", title: "Morning", state: "ended", host: "h", cohosts: [], speakers: [], video: "off", listener_count: 0, raised_hands: [] };
      renderCard(el, ended, "x", "", { start: vi.fn(), join: vi.fn() });
      expect(q(el, "space-card")).toHaveLength(1);
      expect(document.activeElement).toBe(q(el, "space-message")[0]);
      // A join refused: the card is redrawn with the reason, the focus stays on Join.
      const live: Space = { ...ended, state: "live" };
      renderCard(el, live, "x", "", { start: vi.fn(), join: vi.fn() });
      (q(el, "join-space")[0] as HTMLElement).focus();
      renderCard(el, live, "x", "You cannot join this Space: blocked", { start: vi.fn(), join: vi.fn() });
      expect(document.activeElement).toBe(q(el, "join-space")[0]);
      // Opened from a link, nothing of the page had the focus: the card leaves it where it is.
      const fresh = document.createElement("section");
      document.body.append(fresh);
      (document.activeElement as HTMLElement).blur();
      renderCard(fresh, ended, "x", "", { start: vi.fn(), join: vi.fn() });
      expect(document.activeElement).toBe(document.body);
      fresh.remove();
    } finally {
      el.remove();
    }
  });

  it("keeps the focus on Leave when the listener count changes, and says banners to screen readers", () => {
    const header = new HeaderView({ copyLink: vi.fn(), endSpace: vi.fn(), leave: vi.fn() });
    document.body.append(header.header, header.banner);
    try {
      header.update({ title: "T", listeners: 1, myRole: "speaker", hostAwayUntil: null }, { kind: "none" });
      (q(header.header, "leave")[0] as HTMLElement).focus();
      header.update({ title: "T", listeners: 2, myRole: "speaker", hostAwayUntil: null }, { kind: "reconnecting" });
      expect(q(header.header, "listener-count")[0].textContent).toBe("2");
      expect(document.activeElement).toBe(q(header.header, "leave")[0]);
      expect(header.banner.getAttribute("role")).toBe("status");
    } finally {
      header.header.remove();
      header.banner.remove();
    }
  });
});
