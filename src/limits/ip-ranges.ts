import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

/**
 * Parses one address or CIDR range (`10.0.0.5`, `10.0.0.0/24`, `2001:db8::/32`). IPv4 must be dotted-quad
 * (no `10.1`, no hex); an IPv4-mapped IPv6 address is taken as its IPv4 form. Returns the canonical text
 * and the range, or undefined when the entry is not an address or range.
 */
export function parseIpRange(entry: string): { text: string; range: Range } | undefined {
  const value = entry.trim();
  const slash = value.indexOf('/');
  const addressPart = slash < 0 ? value : value.slice(0, slash);
  const address = parseAddress(addressPart);
  if (!address) return undefined;
  const maxBits = address.kind() === 'ipv4' ? 32 : 128;
  let bits = maxBits;
  if (slash >= 0) {
    const bitsText = value.slice(slash + 1);
    if (!/^\d{1,3}$/.test(bitsText)) return undefined;
    bits = Number(bitsText);
    // An IPv4-mapped range counts its prefix in IPv6 bits: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
    if (address.kind() === 'ipv4' && addressPart.includes(':')) bits -= 96;
    if (bits < 0 || bits > maxBits) return undefined;
  }
  const text = bits === maxBits && slash < 0 ? address.toString() : `${address.toString()}/${bits}`;
  return { text, range: [address, bits] };
}

/** A single address (no range), canonical; IPv4-mapped IPv6 becomes IPv4. Undefined when malformed. */
export function parseAddress(text: string): Address | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':') || !ipaddr.IPv6.isValid(text)) return undefined;
  // ipaddr.js reads the deprecated IPv4-compatible `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`; `0::a.b.c.d`
  // is the same address, read right (`::0.0.0.1` is `::1`, not 0.0.0.1).
  const v6 = ipaddr.IPv6.parse(/^::[^:]*\./.test(text) ? `0${text}` : text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** A set of addresses and ranges, checked against client addresses. */
export class IpRangeList {
  private constructor(private readonly ranges: Range[]) {}

  /** Entries are expected valid (validated at the edge); malformed ones are skipped and match nothing. */
  static of(entries: readonly string[]): IpRangeList {
    const ranges: Range[] = [];
    for (const entry of entries) {
      const parsed = parseIpRange(entry);
      if (parsed) ranges.push(parsed.range);
    }
    return new IpRangeList(ranges);
  }

  get isEmpty(): boolean {
    return this.ranges.length === 0;
  }

  /** Whether `address` (text, possibly IPv4-mapped IPv6) lies in one of the ranges. */
  contains(address: string | undefined): boolean {
    if (address === undefined) return false;
    const parsed = parseAddress(address);
    if (!parsed) return false;
    return this.ranges.some(([base, bits]) => base.kind() === parsed.kind() && parsed.match(base, bits));
  }
}

/** An account's allowlist: empty allows every address. */
export function addressAllowed(allowedIps: readonly string[], address: string | undefined): boolean {
  return allowedIps.length === 0 || IpRangeList.of(allowedIps).contains(address);
}
