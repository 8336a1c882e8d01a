/**
 * The protobuf binary wire format, as far as the inference messages need it (proto3: varints,
 * 32- and 64-bit fixed, length-delimited; groups are skipped, never produced). One reader over a
 * received message and one writer that grows a single buffer, so a ModelInfer call costs no
 * per-field objects: @grpc/proto-loader's generic path builds a message instance and then a
 * plain object from it for every call. 64-bit integers become JS numbers, exactly below 2^53
 * (the loader's `longs: Number` does the same).
 *
 * Wire facts (protobuf's encoding guide): a field is a tag varint `(number << 3) | type`, with
 * type 0 varint, 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit (3 and 4 start and end a
 * group); varints are little-endian base-128, at most 10 bytes; negative int32/int64 are their
 * 64-bit two's complement; packed repeated scalars are one length-delimited run.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;
const WIRE_GROUP_START = 3;
const WIRE_GROUP_END = 4;
export const WIRE_FIXED32 = 5;

const TWO_32 = 4_294_967_296;

/** Bytes that are not a valid message (cut short, a varint too long, an unknown wire type). */
export class WireFormatError extends Error {}

export class WireReader {
  pos: number;
  /** The two halves of the last 64-bit varint read (varint64), unsigned. */
  private lo = 0;
  private hi = 0;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  /** A varint's low 32 bits, unsigned: tags, lengths, uint32 and (with `| 0`) int32 values. */
  uint32(): number {
    let value = 0;
    for (let shift = 0; shift < 32; shift += 7) {
      const byte = this.byte();
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value >>> 0;
    }
    // Bits past 32 (a negative int32 is sign-extended to 10 bytes): read and drop them.
    for (let i = 0; i < 5; i++) if (this.byte() < 0x80) return value >>> 0;
    throw new WireFormatError('a varint is longer than 10 bytes');
  }

  private varint64(): void {
    let lo = 0;
    let hi = 0;
    let byte = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      byte = this.byte();
      lo |= (byte & 0x7f) << shift;
      if (byte < 0x80) return this.halves(lo, 0);
    }
    byte = this.byte();
    lo |= (byte & 0x0f) << 28;
    hi = (byte & 0x7f) >> 4;
    if (byte < 0x80) return this.halves(lo, hi);
    for (let shift = 3; shift < 32; shift += 7) {
      byte = this.byte();
      hi |= (byte & 0x7f) << shift;
      if (byte < 0x80) return this.halves(lo, hi);
    }
    throw new WireFormatError('a varint is longer than 10 bytes');
  }

  private halves(lo: number, hi: number): void {
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new WireFormatError('a varint runs past the end of the message');
    return this.buf[this.pos++]!;
  }

  uint64(): number {
    this.varint64();
    return this.hi * TWO_32 + this.lo;
  }

  int64(): number {
    this.varint64();
    if (this.hi < 0x80000000) return this.hi * TWO_32 + this.lo;
    // Two's complement: -(~value + 1), carried across the halves.
    const lo = (~this.lo + 1) >>> 0;
    const hi = (~this.hi + (lo === 0 ? 1 : 0)) >>> 0;
    return -(hi * TWO_32 + lo);
  }

  int32(): number {
    return this.uint32() | 0;
  }

  bool(): boolean {
    this.varint64();
    return this.lo !== 0 || this.hi !== 0;
  }

  float(): number {
    const at = this.advance(4);
    return this.buf.readFloatLE(at);
  }

  double(): number {
    const at = this.advance(8);
    return this.buf.readDoubleLE(at);
  }

  /** Moves past a length-delimited field; returns where its payload starts (it ends at `pos`). */
  private payload(): number {
    return this.advance(this.uint32());
  }

  /** A bytes field: a view on the received message (no copy). */
  bytes(): Buffer {
    const start = this.payload();
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    const start = this.payload();
    return this.buf.toString('utf8', start, this.pos);
  }

  /** Skips a field of the given wire type (unknown fields, and known ones in an unexpected type). */
  skip(wireType: number, depth = 0): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint64();
        return;
      case WIRE_FIXED64:
        this.advance(8);
        return;
      case WIRE_LENGTH:
        this.payload();
        return;
      case WIRE_FIXED32:
        this.advance(4);
        return;
      case WIRE_GROUP_START: {
        if (depth > 64) throw new WireFormatError('groups nest too deep');
        for (;;) {
          const tag = this.uint32();
          if ((tag & 7) === WIRE_GROUP_END) return;
          this.skip(tag & 7, depth + 1);
        }
      }
      default:
        throw new WireFormatError(`wire type ${wireType} is not a protobuf wire type`);
    }
  }

  /** A reader over the next length-delimited payload (an embedded message or a packed run). */
  sub(): WireReader {
    const start = this.payload();
    return new WireReader(this.buf, start, this.pos);
  }

  private advance(length: number): number {
    const at = this.pos;
    if (length > this.end - at) throw new WireFormatError('a field runs past the end of the message');
    this.pos = at + length;
    return at;
  }
}

/** Bytes of `value` (0 <= value < 2^32) as a varint. */
function varint32Size(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

export class WireWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialBytes = 256) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  tag(field: number, wireType: number): void {
    this.uint32((field << 3) | wireType);
  }

  uint32(value: number): void {
    this.ensure(5);
    let v = value >>> 0;
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  /** An int32 value: negative ones as their 64-bit two's complement (10 bytes), as the format says. */
  int32(value: number): void {
    if (value >= 0) this.uint32(value);
    else this.varint64(value >>> 0, 0xffffffff);
  }

  /** A signed or unsigned 64-bit integer given as a JS number (integral). */
  int64(value: number): void {
    const magnitude = Math.trunc(Math.abs(value));
    let lo = magnitude % TWO_32 >>> 0;
    let hi = Math.floor(magnitude / TWO_32) >>> 0;
    if (value < 0 && magnitude !== 0) {
      lo = (~lo + 1) >>> 0;
      hi = (~hi + (lo === 0 ? 1 : 0)) >>> 0;
    }
    this.varint64(lo, hi);
  }

  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    while (hi !== 0 || lo >= 0x80) {
      this.buf[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    this.buf[this.pos++] = lo;
  }

  bool(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  float(value: number): void {
    this.ensure(4);
    this.pos = this.buf.writeFloatLE(value, this.pos);
  }

  double(value: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  bytes(value: Uint8Array): void {
    this.uint32(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  string(value: string): void {
    // Names, versions and ids are short ASCII: copied by hand, they skip two calls into C++.
    if (value.length < 128) {
      this.ensure(value.length + 1);
      const start = this.pos;
      const buf = this.buf;
      buf[start] = value.length;
      let i = 0;
      while (i < value.length) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        buf[start + 1 + i++] = code;
      }
      if (i === value.length) {
        this.pos = start + 1 + i;
        return;
      }
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.uint32(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, length, 'utf8');
  }

  /**
   * Starts a length-delimited field whose length is not known yet (an embedded message, a packed
   * run): room for the longest length varint is kept; `endLength` writes it and closes the gap.
   */
  beginLength(): number {
    this.ensure(5);
    const at = this.pos;
    this.pos += 5;
    return at;
  }

  endLength(at: number): void {
    const length = this.pos - at - 5;
    const size = varint32Size(length);
    if (size < 5) this.buf.copyWithin(at + size, at + 5, this.pos);
    this.pos -= 5 - size;
    const end = this.pos;
    this.pos = at;
    this.uint32(length);
    this.pos = end;
  }

  /** The bytes written, as a view on the writer's buffer. */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
