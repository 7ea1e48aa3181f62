/**
 * What I chose to publish, remembered across a page-level reconnect (docs/web.md, "Rejoin"): my own
 * toggles, and any track seen live in a connected room; a source the grant no longer allows is
 * forgotten. When the SDK's own reconnect gives up, the page joins a new room, and what was live in
 * the session that dropped goes live again there (`restore`). A join of mine (the card, *Rejoin*, a
 * promotion) and a *Leave* forget it: those start muted, as a reload does. A microphone seen muted
 * (a host's mute: the speaker's own already cleared it) is not brought back. No DOM, no room.
 */
import type { PublishRights } from "./media";

export interface Live {
  mic: boolean;
  camera: boolean;
  screen: boolean;
}

/** What bringing `was` back under `rights` does: turn these on, and say whether a share was lost. */
export interface Restore {
  mic: boolean;
  camera: boolean;
  /** A screen share cannot come back without a click (the browser asks which screen again). */
  screenLost: boolean;
}

export class PublishMemory {
  private wanted: Live = { mic: false, camera: false, screen: false };

  /** My own toggle. */
  chose(source: keyof Live, on: boolean): void {
    this.wanted = { ...this.wanted, [source]: on };
  }

  /** A draw of a connected room: what is live counts as chosen; what the grant forbids is dropped,
   * and so is a microphone published but muted (`micMuted`: a host muted it). */
  observe(rights: PublishRights, live: Live, micMuted = false): void {
    this.wanted = {
      mic: rights.mic && !micMuted && (this.wanted.mic || live.mic),
      camera: rights.camera && (this.wanted.camera || live.camera),
      screen: rights.screen && (this.wanted.screen || live.screen),
    };
  }

  forget(): void {
    this.wanted = { mic: false, camera: false, screen: false };
  }

  /** What was chosen now (taken when a room drops, before the new one draws). */
  snapshot(): Live {
    return { ...this.wanted };
  }

  /** In the new room: what of `was` to turn on under its `rights`. A lost share is forgotten. */
  restore(was: Live, rights: PublishRights): Restore {
    const screenLost = was.screen && rights.screen;
    if (screenLost) this.chose("screen", false);
    return { mic: was.mic && rights.mic, camera: was.camera && rights.camera, screenLost };
  }
}
