/** The stage: the big tile the agent's stage state names, and the strip of speakers. */
import type { Participant, Track } from "livekit-client";

import { avatar, h } from "../../dom";
import { icon } from "../../icons";
import { cameraTrack, micOn, screenTrack } from "../../media";
import type { Person } from "../../people";
import type { Layout } from "../../stage";

/** A <video> that shows at most one track and only re-attaches when the track changes. */
export class VideoSlot {
  readonly el = h("video", { autoplay: true, playsinline: true, muted: true });
  private track: Track | null = null;

  show(track: Track | null, mirrored = false): void {
    this.el.classList.toggle("mirrored", mirrored);
    if (track === this.track) return;
    this.track?.detach(this.el);
    this.track = track;
    track?.attach(this.el);
  }
}

/** A speaker tile in the strip. */
class Tile {
  readonly video = new VideoSlot();
  readonly el: HTMLElement;
  private readonly mic = h("span", { class: "mic-state", "data-testid": "tile-mic" });
  private readonly label = h("span", { class: "tile-name", "data-testid": "tile-name" });
  private face: HTMLElement;
  private faceOf = "";

  constructor(readonly identity: string) {
    this.face = avatar(identity);
    this.el = h(
      "div",
      { class: "tile", "data-testid": "tile", "data-identity": identity },
      this.video.el,
      this.face,
      h("div", { class: "tile-caption" }, this.mic, this.label),
    );
  }

  update(
    p: Participant | undefined,
    opts: { name: string; person: Person; level: number | undefined; pinned: boolean; local: boolean },
  ): void {
    const face = JSON.stringify([opts.person.name, opts.person.picture]);
    if (face !== this.faceOf) {
      this.faceOf = face;
      const next = avatar(this.identity, "s", opts.person);
      this.face.replaceWith(next);
      this.face = next;
    }
    const track = p ? cameraTrack(p) : null;
    this.video.show(track, opts.local);
    this.el.dataset.video = track ? "on" : "off";
    this.el.dataset.speaking = opts.level !== undefined ? "true" : "false";
    this.el.style.setProperty("--level", String(opts.level ?? 0));
    this.el.classList.toggle("pinned", opts.pinned);
    const live = !!p && micOn(p);
    if (this.mic.dataset.on !== String(live)) {
      this.mic.dataset.on = String(live);
      // The icon is hidden from screen readers: the words say it.
      this.mic.replaceChildren(live ? icon("mic") : icon("micOff"), h("span", { class: "visually-hidden" }, live ? "mic on" : "muted"));
    }
    this.label.textContent = opts.name;
  }
}

/**
 * The big tile with nobody in it: before anyone spoke, and after the one in the spotlight left (the
 * agent then names nobody until someone speaks). True in both, unlike "Nobody has spoken yet".
 */
export const EMPTY_SPOTLIGHT = "Nobody is in the spotlight: it goes to whoever speaks next.";

/**
 * My own screen on the big tile: what everyone else sees, which I am looking at already. Drawn, it
 * is a picture of the picture, repeated to infinity when the whole screen is shared, and a second
 * copy of the screen eating the sharer's CPU; a card says it instead (as Google Meet does).
 */
export const PRESENTING = "You are presenting: everyone sees your screen on the big tile.";

export interface StageInput {
  layout: Layout;
  seq: number | null;
  spotlight: string | null;
  /** Whether the agent has sent any stage yet. */
  hasStage: boolean;
  me: string;
  participant(identity: string): Participant | undefined;
  /** The tile label (display name, "(you)", role). */
  name(identity: string): string;
  /** Who they are: display name and avatar (people.ts). */
  person(identity: string): Person;
}

export class StageView {
  private readonly big = new VideoSlot();
  private readonly bigFace = h("div", { class: "big-face" });
  private readonly bigName = h("div", { class: "big-name", "data-testid": "spotlight-name" });
  readonly bigTile = h("div", { class: "big-tile", "data-testid": "spotlight", "data-identity": "", "data-video": "off", "data-source": "camera", "data-shape": "landscape" }, this.big.el, this.bigFace, this.bigName);
  readonly strip = h("div", { class: "strip", "data-testid": "strip" });
  private readonly tiles = new Map<string, Tile>();
  private bigFaceOf: string | undefined = undefined;
  private bigTrackShown: Track | null = null;

  constructor() {
    // The shape of what plays (a phone's camera held upright is portrait): a phone's stylesheet gives
    // a portrait video a taller big tile, where it was a column a third of the tile's width.
    const shape = () => {
      const { videoWidth, videoHeight } = this.big.el;
      this.bigTile.dataset.shape = videoHeight > videoWidth ? "portrait" : "landscape";
    };
    this.big.el.addEventListener("resize", shape);
    this.big.el.addEventListener("loadedmetadata", shape);
  }

  /** A new connection: no tiles from the old one. */
  reset(): void {
    for (const tile of this.tiles.values()) tile.video.show(null);
    this.tiles.clear();
    this.strip.replaceChildren();
  }

  update(input: StageInput): void {
    const { layout, me } = input;
    const t = this.bigTile;
    t.dataset.identity = layout.big ?? "";
    t.dataset.seq = String(input.seq ?? "");
    t.dataset.pinned = layout.pinned ?? "";
    t.dataset.spotlight = input.spotlight ?? "";
    const bigP = layout.big ? input.participant(layout.big) : undefined;
    const screen = layout.bigSource === "screen_share";
    const presenting = screen && layout.bigVideo && !!layout.big && layout.big === me;
    const bigTrack = bigP && layout.bigVideo && !presenting ? (screen ? screenTrack(bigP) : cameraTrack(bigP)) : null;
    // Another video: its shape is the new track's as far as it is known yet, until its own
    // metadata says (a portrait camera followed by a landscape one must not keep the tall tile).
    if (bigTrack !== this.bigTrackShown) {
      this.bigTrackShown = bigTrack;
      const size = bigTrack ? bigP?.getTrackPublication(bigTrack.source)?.dimensions : undefined;
      t.dataset.shape = size && size.height > size.width ? "portrait" : "landscape";
    }
    // My own camera is mirrored like a mirror; a screen never is (its text would read backwards).
    this.big.show(bigTrack, !screen && !!layout.big && layout.big === me);
    t.dataset.video = bigTrack ? "on" : "off";
    t.dataset.source = layout.bigSource;
    t.dataset.presenting = presenting ? "true" : "false";
    t.dataset.speaking = layout.big && layout.speaking.has(layout.big) ? "true" : "false";
    const pinnedBig = layout.pinHolds && !!layout.big && layout.big === layout.pinned;
    t.classList.toggle("pinned", pinnedBig);
    const bigPerson = layout.big ? input.person(layout.big) : null;
    const bigFace = JSON.stringify([layout.big, bigPerson?.name, bigPerson?.picture, input.hasStage, presenting]);
    if (bigFace !== this.bigFaceOf) {
      this.bigFaceOf = bigFace;
      this.bigFace.replaceChildren(
        presenting
          ? h("p", { "data-testid": "presenting" }, icon("screen"), " ", PRESENTING)
          : layout.big && bigPerson
            ? avatar(layout.big, "l", bigPerson)
            : h("p", { class: "muted", "data-testid": "spotlight-empty" }, input.hasStage ? EMPTY_SPOTLIGHT : "Waiting for the stage…"),
      );
    }
    // The name in its own box, cut with "…" on one line (as the strip's captions are): wrapped, a
    // long name and role covered the bottom of the video on a phone.
    const bigLabel = layout.big ? input.name(layout.big) : "";
    this.bigName.replaceChildren(
      bigLabel ? h("span", { class: "big-name-text", title: bigLabel }, bigLabel) : "",
      pinnedBig ? h("span", { class: "pin-badge" }, icon("pin"), screen ? "screen pinned" : "pinned") : "",
    );

    for (const [id, tile] of this.tiles) {
      if (!layout.strip.includes(id)) {
        tile.video.show(null);
        tile.el.remove();
        this.tiles.delete(id);
      }
    }
    layout.strip.forEach((id, index) => {
      let tile = this.tiles.get(id);
      if (!tile) {
        tile = new Tile(id);
        this.tiles.set(id, tile);
      }
      if (this.strip.children[index] !== tile.el) this.strip.insertBefore(tile.el, this.strip.children[index] ?? null);
      tile.update(input.participant(id), { name: input.name(id), person: input.person(id), level: layout.speaking.get(id), pinned: layout.pinHolds && id === layout.pinned, local: id === me });
    });
  }
}
