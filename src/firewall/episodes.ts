/**
 * NAME
 *   firewall/episodes - one reference for the identical refusals of a listed IP in a short window
 *
 * SYNOPSIS
 *   const episodes = new RefusalEpisodes({ windowMs, maxCount })
 *   episodes.find(config, ip, ctx, verdict, reason, kind, now): Episode | undefined
 *   episodes.start(ip, episode); episodes.forget(ip); episodes.size
 *
 * DESCRIPTION
 *   A listed IP is usually refused again and again by the same client retrying the same
 *   transaction: same front, HELO, sender and recipient. Giving each of those refusals a fresh
 *   reference cost one evidence record (one store write) per refusal, the one store write left
 *   on the warm path. Instead, a refusal from a listing starts an *episode*: its reference, reply
 *   and evidence are kept here, and a later refusal of the same IP from its listing that is
 *   identical in everything the evidence records (front, HELO, sender, recipient, verdict,
 *   reason, reply kind, and the same configuration object: a reload ends every episode) within
 *   `windowMs` of the episode's start gets the same reference, reply
 *   and URL. So every reference still names exactly one evidence record, and that record is
 *   true of every refusal that carried the reference, except `at`, which is the first one's
 *   (the listing's lastRejectAt and rejectCount still count every refusal). Anything different,
 *   or a later time, starts a new episode with a new reference.
 *
 *   An episode ends early when the IP leaves the hot cache (cleared, expired, allowlisted): the
 *   firewall calls forget().
 *
 * LIMITS
 *   `maxCount` episodes at once (IPs refused within the window); past it the oldest is dropped
 *   (its IP's next refusal simply starts a new episode). Each start() also drops the episodes whose
 *   window has ended: an ended episode can never be found again, and kept until the count bound
 *   pushed it out, it held its evidence and reply for nothing (one per refused IP, up to
 *   `maxCount` of them, under a stream of new refused addresses).
 */
import type { Evidence, Front } from '../store/types.js';
import type { ReplyKind } from './reply.js';
import type { ClientContext, DecisionReason, DecisionVerdict, SmtpReply } from './types.js';

export interface Episode {
  /** The configuration the reply was built under: a reload (other URL, name, mode) ends the episode. */
  readonly config: object;
  readonly front: Front;
  readonly helo: string | undefined;
  readonly sender: string | undefined;
  readonly recipient: string | undefined;
  readonly verdict: DecisionVerdict;
  readonly reason: DecisionReason;
  readonly kind: ReplyKind;
  readonly ref: string;
  readonly url: string;
  readonly reply: SmtpReply;
  readonly evidence: Evidence;
  /** The log line's detail, built once. */
  readonly detail: string;
  /** The end of the episode's window (ms). */
  readonly until: number;
}

export interface EpisodeOptions {
  readonly windowMs: number;
  readonly maxCount: number;
}

export class RefusalEpisodes {
  private readonly byIp = new Map<string, Episode>();
  readonly windowMs: number;
  private readonly maxCount: number;

  constructor(options: EpisodeOptions) {
    this.windowMs = options.windowMs;
    this.maxCount = options.maxCount;
  }

  get size(): number {
    return this.byIp.size;
  }

  /** find - the running episode this refusal belongs to, or undefined (then start a new one). */
  find(config: object, ip: string, ctx: ClientContext, verdict: DecisionVerdict, reason: DecisionReason, kind: ReplyKind, now: number): Episode | undefined {
    const e = this.byIp.get(ip);
    if (e === undefined) return undefined;
    if (
      e.config === config &&
      now < e.until &&
      now >= e.evidence.at &&
      e.front === ctx.front &&
      e.helo === ctx.helo &&
      e.sender === ctx.sender &&
      e.recipient === ctx.recipient &&
      e.verdict === verdict &&
      e.reason === reason &&
      e.kind === kind
    ) {
      return e;
    }
    return undefined;
  }

  start(ip: string, episode: Episode): void {
    this.byIp.delete(ip);
    this.byIp.set(ip, episode);
    // The map is in start order and every window is windowMs long, so the ended ones lead it.
    const now = episode.until - this.windowMs;
    for (const [oldIp, old] of this.byIp) {
      if (old.until > now) break;
      this.byIp.delete(oldIp);
    }
    while (this.byIp.size > this.maxCount) {
      const oldest = this.byIp.keys().next();
      if (oldest.done === true) return;
      this.byIp.delete(oldest.value);
    }
  }

  forget(ip: string): void {
    this.byIp.delete(ip);
  }
}
