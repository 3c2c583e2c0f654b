/**
 * Random PDUs for property tests and benchmarks: every PDU type, every item and sub-item, with
 * values that survive an encode/decode round trip unchanged (AE titles without outer spaces,
 * UIDs without trailing NUL, a maximum length sub-item in every user information item).
 *
 * @module
 */
import {
  type AAssociateAc,
  type AAssociateRq,
  emptyUserInformation,
  type Pdu,
  PduType,
  type PresentationDataValue,
  type UserInformation,
} from "../../src/ul/pdu.ts";

/** A source of uniformly distributed numbers in [0, 1). */
export type Rng = () => number;

/** The mulberry32 PRNG: small, fast, and the same sequence for the same seed. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return function next(): number {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [min, max]. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

function randomBytes(rng: Rng, max: number): Uint8Array {
  const out = new Uint8Array(randomInt(rng, 0, max));
  for (let i = 0; i < out.length; i++) out[i] = randomInt(rng, 0, 255);
  return out;
}

/** A UID-shaped string: digits and dots, 1–64 characters, never ending in NUL. */
export function randomUid(rng: Rng): string {
  const parts = ["1.2.840.10008"];
  const n = randomInt(rng, 1, 6);
  for (let i = 0; i < n; i++) parts.push(String(randomInt(rng, 0, 99999)));
  return parts.join(".").slice(0, 64);
}

const AE_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_- ";

/** An AE title of 1–16 characters without leading or trailing spaces. */
export function randomAeTitle(rng: Rng): string {
  const n = randomInt(rng, 1, 16);
  let s = "";
  for (let i = 0; i < n; i++) s += AE_CHARACTERS[randomInt(rng, 0, AE_CHARACTERS.length - 1)];
  s = s.trim();
  return s === "" ? "AE" : s;
}

function randomOddId(rng: Rng): number {
  return randomInt(rng, 0, 127) * 2 + 1;
}

function randomList<T>(rng: Rng, max: number, make: () => T): T[] {
  const out: T[] = [];
  const n = randomInt(rng, 0, max);
  for (let i = 0; i < n; i++) out.push(make());
  return out;
}

/** A user information item with a maximum length and a random choice of the other sub-items. */
export function randomUserInformation(rng: Rng, forRq: boolean): UserInformation {
  const ui = emptyUserInformation();
  ui.maximumLength = chance(rng, 0.2) ? 0 : randomInt(rng, 0, 0xffffffff);
  if (chance(rng, 0.8)) ui.implementationClassUid = randomUid(rng);
  if (chance(rng, 0.5)) {
    ui.asynchronousOperationsWindow = {
      maxOperationsInvoked: randomInt(rng, 0, 0xffff),
      maxOperationsPerformed: randomInt(rng, 0, 0xffff),
    };
  }
  ui.roleSelections = randomList(rng, 3, () => ({
    sopClassUid: randomUid(rng),
    scuRole: chance(rng, 0.5),
    scpRole: chance(rng, 0.5),
  }));
  if (chance(rng, 0.7)) ui.implementationVersionName = randomAeTitle(rng);
  ui.sopClassExtendedNegotiations = randomList(rng, 2, () => ({
    sopClassUid: randomUid(rng),
    serviceClassApplicationInformation: randomBytes(rng, 12),
  }));
  if (forRq) {
    ui.sopClassCommonExtendedNegotiations = randomList(rng, 2, () => ({
      sopClassUid: randomUid(rng),
      serviceClassUid: randomUid(rng),
      relatedGeneralSopClassUids: randomList(rng, 3, () => randomUid(rng)),
    }));
    if (chance(rng, 0.4)) {
      const userIdentityType = randomInt(rng, 1, 5);
      ui.userIdentityRq = {
        userIdentityType,
        positiveResponseRequested: chance(rng, 0.5),
        primaryField: randomBytes(rng, 40),
        secondaryField: userIdentityType === 2 ? randomBytes(rng, 20) : new Uint8Array(0),
      };
    }
  } else if (chance(rng, 0.4)) {
    ui.userIdentityAc = { serverResponse: randomBytes(rng, 40) };
  }
  ui.unknownItems = randomList(rng, 2, () => ({
    // Any type but the known sub-items 51H–59H.
    itemType: chance(rng, 0.5) ? randomInt(rng, 0x5a, 0xff) : randomInt(rng, 0x00, 0x50),
    data: randomBytes(rng, 16),
  }));
  return ui;
}

function randomAssociateRq(rng: Rng): AAssociateRq {
  return {
    pduType: PduType.A_ASSOCIATE_RQ,
    protocolVersion: chance(rng, 0.9) ? 1 : randomInt(rng, 0, 0xffff),
    calledAeTitle: randomAeTitle(rng),
    callingAeTitle: randomAeTitle(rng),
    applicationContextName: chance(rng, 0.9) ? "1.2.840.10008.3.1.1.1" : randomUid(rng),
    presentationContexts: randomList(rng, 5, () => ({
      presentationContextId: randomOddId(rng),
      abstractSyntax: randomUid(rng),
      transferSyntaxes: [randomUid(rng), ...randomList(rng, 3, () => randomUid(rng))],
    })),
    userInformation: randomUserInformation(rng, true),
  };
}

function randomAssociateAc(rng: Rng): AAssociateAc {
  return {
    pduType: PduType.A_ASSOCIATE_AC,
    protocolVersion: chance(rng, 0.9) ? 1 : randomInt(rng, 0, 0xffff),
    calledAeTitle: randomAeTitle(rng),
    callingAeTitle: randomAeTitle(rng),
    applicationContextName: "1.2.840.10008.3.1.1.1",
    presentationContexts: randomList(rng, 5, () => ({
      presentationContextId: randomOddId(rng),
      result: randomInt(rng, 0, 4),
      transferSyntax: randomUid(rng),
    })),
    userInformation: randomUserInformation(rng, false),
  };
}

function randomPdv(rng: Rng, maxData: number): PresentationDataValue {
  return {
    presentationContextId: randomOddId(rng),
    isCommand: chance(rng, 0.5),
    isLast: chance(rng, 0.5),
    data: randomBytes(rng, maxData),
  };
}

/** Options of `randomPdu`. */
export interface RandomPduOptions {
  /** Largest PDV data length (default 256). */
  maxPdvData?: number;
}

/** A random PDU of any of the seven types. */
export function randomPdu(rng: Rng, options: RandomPduOptions = {}): Pdu {
  const maxData = options.maxPdvData ?? 256;
  switch (randomInt(rng, 1, 7)) {
    case 1:
      return randomAssociateRq(rng);
    case 2:
      return randomAssociateAc(rng);
    case 3:
      return {
        pduType: PduType.A_ASSOCIATE_RJ,
        result: randomInt(rng, 1, 2),
        source: randomInt(rng, 1, 3),
        reason: randomInt(rng, 0, 7),
      };
    case 4:
      return {
        pduType: PduType.P_DATA_TF,
        presentationDataValues: [
          randomPdv(rng, maxData),
          ...randomList(rng, 3, () => randomPdv(rng, maxData)),
        ],
      };
    case 5:
      return { pduType: PduType.A_RELEASE_RQ };
    case 6:
      return { pduType: PduType.A_RELEASE_RP };
    default:
      return {
        pduType: PduType.A_ABORT,
        source: chance(rng, 0.5) ? 0 : 2,
        reason: randomInt(rng, 0, 6),
      };
  }
}
