/**
 * What the page learns without asking the API (issue 9, push not poll): the room metadata the
 * control plane writes (every room member), the raised hands it sends to moderators on the
 * `spaces.hands` topic, and state.json beside the broadcast playlist (HLS viewers, same document
 * as the room metadata). Pure: parsing, ordering by version, merging into the Space the page holds.
 */
import type { Space } from "./api";
import type { RaisedHands, RoomMetadata } from "./contract.gen";
import { BROADCAST_STATE } from "./contract.gen";
import { mergeNames } from "./people";
import { seatedOf } from "./stage";
import { parseEntries } from "./timeline";

function names(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x !== "") : [];
}

/** A `names` or `pictures` map as read: non-text entries dropped; absent (a document from before
 * them): empty. */
function displayNames(v: unknown): Record<string, string> {
  return v && typeof v === "object" && !Array.isArray(v) ? mergeNames(v as Record<string, unknown>) : {};
}

function count(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : 0;
}

/** A map of viewer tags to times (`removed_viewers`, `invited`) as read: entries that are not a tag
 * to a time dropped. */
function tagTimes(v: unknown): Record<string, number> {
  if (!v || typeof v !== "object" || Array.isArray(v)) return {};
  const kept = Object.entries(v as Record<string, unknown>).filter(
    (e): e is [string, number] => e[0] !== "" && typeof e[1] === "number" && Number.isInteger(e[1]) && e[1] >= 0,
  );
  return Object.fromEntries(kept);
}

/** Whether `doc` says the viewer tagged `tag` was removed after a grant issued at `issuedMs` (epoch ms). */
export function removedSince(doc: RoomMetadata, tag: string | null, issuedMs: number): boolean {
  if (!tag || !Object.prototype.hasOwnProperty.call(doc.removed_viewers, tag)) return false;
  return doc.removed_viewers[tag] > issuedMs;
}

function object(json: string | undefined | null): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(json || "{}");
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Lenient like every reader of the contract: a malformed document or field reads as its default. */
export function parseRoomMetadata(json: string | undefined | null): RoomMetadata {
  const raw = object(json);
  const state = raw.state === "scheduled" || raw.state === "ended" ? raw.state : "live";
  return {
    space_id: typeof raw.space_id === "string" ? raw.space_id : "",
    video: raw.video === "host" || raw.video === "speakers" ? raw.video : "off",
    // Only an explicit false: every Space was recorded before the choice existed.
    record: raw.record !== false,
    pinned: typeof raw.pinned === "string" && raw.pinned ? raw.pinned : null,
    pinned_source: raw.pinned_source === "screen_share" ? "screen_share" : "camera",
    title: typeof raw.title === "string" ? raw.title : "",
    state,
    host: typeof raw.host === "string" ? raw.host : "",
    cohosts: names(raw.cohosts),
    speakers: names(raw.speakers),
    names: displayNames(raw.names),
    pictures: displayNames(raw.pictures),
    listener_count: count(raw.listener_count),
    version: count(raw.version),
    host_away_until: typeof raw.host_away_until === "number" && raw.host_away_until > 0 ? raw.host_away_until : null,
    removed_viewers: tagTimes(raw.removed_viewers),
    invited: tagTimes(raw.invited),
    // state.json's only (the composer's): absent from the room's metadata, and left out then.
    ...(Array.isArray(raw.timeline_recent) ? { timeline_recent: parseEntries(raw.timeline_recent) } : {}),
  };
}

/** The hands message, or null when it is not one (wrong shape, no space id). */
export function parseHands(json: string | undefined | null): RaisedHands | null {
  const raw = object(json);
  if (typeof raw.space_id !== "string" || !raw.space_id || !Array.isArray(raw.hands)) return null;
  return {
    space_id: raw.space_id,
    version: count(raw.version),
    hands: names(raw.hands),
    names: displayNames(raw.names),
    pictures: displayNames(raw.pictures),
  };
}

/**
 * The faces after a newer metadata document: it is the truth for the stage it names (a face it
 * lacks was removed), and says nothing of anyone else (a raised hand's face stays).
 */
function stagePictures(held: Readonly<Record<string, string>> | undefined, doc: RoomMetadata): Record<string, string> {
  const stage = new Set(seatedOf(doc));
  const kept = Object.fromEntries(Object.entries(held ?? {}).filter(([id]) => !stage.has(id)));
  return mergeNames(kept, doc.pictures);
}

/** Where state.json lives: beside the playlist. */
export function stateUrl(playlistUrl: string): string {
  return new URL(BROADCAST_STATE, playlistUrl).toString();
}

/** Who reads a document: my id, and my tag in its `invited` (null: the grant carried none). */
export interface Reader {
  id: string;
  tag: string | null;
}

/**
 * The invitations to speak after a newer document, by id as the API gives them. The document names
 * invitees by tag only (who was invited is not public): mine is there under my tag. Others' are a
 * moderator's from the API's answer, kept while the document still holds some invitation and they
 * are not on stage (accepted); one declined or withdrawn meanwhile stays until the next API answer.
 */
function pushedInvitations(held: Readonly<Record<string, string>> | undefined, doc: RoomMetadata, reader: Reader | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const stage = new Set(seatedOf(doc));
  const waiting = Object.keys(doc.invited).length;
  for (const [id, until] of Object.entries(held ?? {})) {
    if (waiting > 0 && id !== reader?.id && !stage.has(id)) out[id] = until;
  }
  const tag = reader?.tag;
  if (reader && tag && Object.prototype.hasOwnProperty.call(doc.invited, tag)) {
    out[reader.id] = new Date(doc.invited[tag]).toISOString();
  }
  return out;
}

/**
 * The Space after a pushed document, or null when the document is older than what the page has,
 * belongs to another Space, or predates the pushed fields (no host: an older control plane).
 * `version` is the version the page last took from anywhere (API answer or push); `reader`: whose
 * page it is, for their invitation.
 */
export function mergeMetadata(space: Space, version: number, doc: RoomMetadata, reader?: Reader): Space | null {
  if (doc.space_id !== space.id || !doc.host || doc.version < version) return null;
  return {
    ...space,
    invitations: pushedInvitations(space.invitations, doc, reader),
    title: doc.title,
    state: doc.state,
    host: doc.host,
    cohosts: doc.cohosts,
    speakers: doc.speakers,
    names: mergeNames(space.names, doc.names),
    pictures: stagePictures(space.pictures, doc),
    video: doc.video,
    record: doc.record,
    pinned: doc.pinned,
    pinned_source: doc.pinned_source,
    listener_count: doc.listener_count,
    host_away_until: doc.host_away_until,
  };
}
