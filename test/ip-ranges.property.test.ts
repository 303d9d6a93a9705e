import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientAddress } from '../src/limits/client-address';
import { addressAllowed, IpRangeList, parseAddress, parseIpRange } from '../src/limits/ip-ranges';

// ---- A small, independent reference model: addresses as integers, ranges by integer masks. ----

const V4_MAX = 0xffffffff;
const V6_MAX = (1n << 128n) - 1n;

const v4Text = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const v4Int = (text: string) => text.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);

/** Any IPv6 text (with `::`, leading zeros, an embedded IPv4 tail) → 128-bit integer. */
function v6Int(text: string): bigint {
  let s = text.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4Int(dotted[1]!);
    s = `${s.slice(0, dotted.index)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  expect(groups).toHaveLength(8);
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

const isMapped = (n: bigint) => n >> 32n === 0xffffn;

/** RFC 5952 text of a 128-bit integer: lowercase, no leading zeros, the first longest run (≥ 2) of zero groups as `::`. */
function rfc5952(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The canonical text the service should store for an address: mapped IPv6 becomes its IPv4 form. */
const canonicalV6 = (n: bigint) => (isMapped(n) ? v4Text(Number(n & 0xffffffffn)) : rfc5952(n));

const v4Mask = (bits: number) => (bits === 0 ? 0 : (V4_MAX << (32 - bits)) >>> 0);
const inV4Range = (address: number, base: number, bits: number) =>
  (address & v4Mask(bits)) >>> 0 === (base & v4Mask(bits)) >>> 0;
const v6Mask = (bits: number) => (V6_MAX >> BigInt(128 - bits)) << BigInt(128 - bits);
const inV6Range = (address: bigint, base: bigint, bits: number) => (address & v6Mask(bits)) === (base & v6Mask(bits));

/** Fully written-out IPv6 text (eight 4-digit groups), so the generator does not lean on the parser's shortcuts. */
const v6Full = (n: bigint) =>
  Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16).padStart(4, '0')).join(':');

// ---- Generators ----

const v4Number = fc.integer({ min: 0, max: V4_MAX });
/** Not IPv4-mapped: those are IPv4 addresses as far as the service is concerned, tested on their own below. */
const v6Number = fc.bigInt({ min: 0n, max: V6_MAX }).filter((n) => !isMapped(n));
/** An address near `base`: only bits after the first `keep` may differ, so half the draws land in the range. */
const v4Near = (base: number) =>
  fc.tuple(fc.integer({ min: 0, max: 32 }), v4Number).map(([keep, noise]) => (base ^ (noise & ~v4Mask(keep))) >>> 0);
const v6Near = (base: bigint) =>
  fc
    .tuple(fc.integer({ min: 0, max: 128 }), fc.bigInt({ min: 0n, max: V6_MAX }))
    .map(([keep, noise]) => base ^ (noise & ~v6Mask(keep) & V6_MAX))
    .filter((n) => !isMapped(n));

describe('parseIpRange', () => {
  it('accepts every dotted-quad IPv4 address and keeps it as written', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(parseIpRange(ip)?.text).toBe(ip);
        expect(parseIpRange(` ${ip}\t`)?.text).toBe(ip);
      }),
    );
  });

  it('accepts every IPv4 CIDR range /0../32 and round-trips its text', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, bits) => {
        const text = `${ip}/${bits}`;
        expect(parseIpRange(text)?.text).toBe(text);
      }),
    );
  });

  it('accepts every IPv6 address in any spelling and stores its RFC 5952 text (IPv4-mapped as IPv4)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), v6Number.map(v6Full), v6Number.map((n) => v6Full(n).toUpperCase())), (ip) => {
        const parsed = parseIpRange(ip);
        expect(parsed?.text).toBe(canonicalV6(v6Int(ip)));
        expect(parseIpRange(parsed!.text)?.text).toBe(parsed!.text);
      }),
    );
    // The deprecated IPv4-compatible spelling is an IPv6 address, not an IPv4 one: `::0.0.0.1` is loopback `::1`.
    expect(parseIpRange('::0.0.0.1')?.text).toBe('::1');
    expect(parseIpRange('::1.2.3.4')?.text).toBe('::102:304');
    expect(IpRangeList.of(['::0.0.0.1']).contains('::1')).toBe(true);
    expect(IpRangeList.of(['1.2.3.4']).contains('::1.2.3.4')).toBe(false);
  });

  it('accepts every IPv6 CIDR range /0../128 and round-trips its canonical text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV6(), v6Number.map(v6Full)), fc.integer({ min: 0, max: 128 }), (ip, bits) => {
        fc.pre(!isMapped(v6Int(ip)));
        const parsed = parseIpRange(`${ip}/${bits}`);
        expect(parsed?.text).toBe(`${rfc5952(v6Int(ip))}/${bits}`);
        expect(parseIpRange(parsed!.text)?.text).toBe(parsed!.text);
      }),
    );
  });

  it('takes an IPv4-mapped address or range as its IPv4 form, the prefix counted in IPv6 bits', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), fc.boolean(), (ip, bits, upper) => {
        const mapped = upper ? `::FFFF:${ip}` : `::ffff:${ip}`;
        expect(parseIpRange(mapped)?.text).toBe(ip);
        expect(parseIpRange(`${mapped}/${bits + 96}`)?.text).toBe(`${ip}/${bits}`);
        const n = v4Int(ip);
        expect(parseIpRange(`::ffff:${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}/${bits + 96}`)?.text).toBe(`${ip}/${bits}`);
      }),
    );
  });

  it('refuses prefixes out of range: above /32 for IPv4, above /128 for IPv6, signed, empty or not decimal', () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.ipV6(),
        fc.integer({ min: 33, max: 99_999 }),
        fc.integer({ min: 129, max: 99_999 }),
        fc.constantFrom('', '-1', '+8', '8.0', '0x10', ' 8', '8 8', '1e1', 'abc', '24/24'),
        (v4, v6, tooLongV4, tooLongV6, junk) => {
          expect(parseIpRange(`${v4}/${tooLongV4}`)).toBeUndefined();
          expect(parseIpRange(`${v6}/${tooLongV6}`)).toBeUndefined();
          expect(parseIpRange(`::ffff:${v4}/${tooLongV4 + 96}`)).toBeUndefined();
          expect(parseIpRange(`${v4}/${junk}`)).toBeUndefined();
          expect(parseIpRange(`${v6}/${junk}`)).toBeUndefined();
        },
      ),
    );
  });

  it('refuses IPv4 spellings other than dotted-quad decimal (hex, octal, fewer parts), which resolvers read differently', () => {
    const strictDecimal = /^(0|[1-9]\d{0,2})(\.(0|[1-9]\d{0,2})){3}$/;
    fc.assert(
      fc.property(fc.ipV4Extended(), (ip) => {
        fc.pre(!strictDecimal.test(ip));
        expect(parseIpRange(ip)).toBeUndefined();
        expect(parseIpRange(`${ip}/8`)).toBeUndefined();
      }),
    );
    for (const bad of ['10.0.0.300', '10.1', '10.0.0', '010.0.0.1', '1.2.3.4.5', '256.0.0.0', 'banana', '', '/', '/24'])
      expect(parseIpRange(bad), bad).toBeUndefined();
  });

  it('never throws on any string, and whatever it accepts it reads back identically from its own text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.string({ maxLength: 60, unit: 'binary' }),
          fc.stringMatching(/^[0-9a-fA-F:.\/%]{0,45}$/),
        ),
        (s) => {
          const parsed = parseIpRange(s);
          if (parsed) expect(parseIpRange(parsed.text)?.text).toBe(parsed.text);
        },
      ),
    );
  });
});

describe('IpRangeList.contains', () => {
  it('agrees with integer masks for IPv4 ranges', () => {
    fc.assert(
      fc.property(
        v4Number.chain((base) => fc.tuple(fc.constant(base), fc.integer({ min: 0, max: 32 }), v4Near(base))),
        ([base, bits, address]) => {
          const expected = inV4Range(address, base, bits);
          const list = IpRangeList.of([`${v4Text(base)}/${bits}`]);
          expect(list.contains(v4Text(address))).toBe(expected);
          // A dual-stack socket reports an IPv4 client as IPv4-mapped IPv6: same answer.
          expect(list.contains(`::ffff:${v4Text(address)}`)).toBe(expected);
          // The same range written IPv4-mapped: same answer.
          expect(IpRangeList.of([`::ffff:${v4Text(base)}/${bits + 96}`]).contains(v4Text(address))).toBe(expected);
          // A bare address is a /32.
          expect(IpRangeList.of([v4Text(base)]).contains(v4Text(address))).toBe(address === base);
        },
      ),
    );
  });

  it('agrees with 128-bit masks for IPv6 ranges', () => {
    fc.assert(
      fc.property(
        v6Number.chain((base) => fc.tuple(fc.constant(base), fc.integer({ min: 0, max: 128 }), v6Near(base))),
        ([base, bits, address]) => {
          const list = IpRangeList.of([`${v6Full(base)}/${bits}`]);
          expect(list.contains(rfc5952(address))).toBe(inV6Range(address, base, bits));
          expect(list.contains(v6Full(address).toUpperCase())).toBe(inV6Range(address, base, bits));
          expect(IpRangeList.of([rfc5952(base)]).contains(rfc5952(address))).toBe(address === base);
        },
      ),
    );
  });

  it('a list contains an address when any of its entries does; IPv4 ranges never hold IPv6 addresses and back', () => {
    const entry = fc.oneof(
      fc.tuple(v4Number, fc.integer({ min: 0, max: 32 })).map(([b, n]) => ({ v4: true as const, base: b, bits: n })),
      fc.tuple(v6Number, fc.integer({ min: 1, max: 128 })).map(([b, n]) => ({ v4: false as const, base: b, bits: n })),
    );
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 6 }), v4Number, v6Number, (entries, a4, a6) => {
        const list = IpRangeList.of(
          entries.map((e) => (e.v4 ? `${v4Text(e.base)}/${e.bits}` : `${rfc5952(e.base)}/${e.bits}`)),
        );
        expect(list.isEmpty).toBe(entries.length === 0);
        expect(list.contains(v4Text(a4))).toBe(entries.some((e) => e.v4 && inV4Range(a4, e.base, e.bits)));
        expect(list.contains(rfc5952(a6))).toBe(entries.some((e) => !e.v4 && inV6Range(a6, e.base, e.bits)));
      }),
    );
  });

  it('never throws on strangers: malformed entries match nothing, malformed or missing addresses are not contained', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 40 }), { maxLength: 5 }), fc.option(fc.string({ maxLength: 40 })), (entries, address) => {
        const list = IpRangeList.of(entries);
        const contained = list.contains(address ?? undefined);
        if (contained) expect(parseAddress(address!)).toBeDefined();
      }),
    );
    expect(IpRangeList.of(['0.0.0.0/0', '::/0']).contains(undefined)).toBe(false);
    expect(IpRangeList.of(['0.0.0.0/0', '::/0']).contains('banana')).toBe(false);
  });

  it('an empty allowlist allows every address, even an unknown one; a non-empty one never allows an unknown one', () => {
    fc.assert(
      fc.property(fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string())), (address) => {
        expect(addressAllowed([], address ?? undefined)).toBe(true);
        expect(addressAllowed(['0.0.0.0/0', '::/0'], undefined)).toBe(false);
      }),
    );
  });
});

describe('clientAddress', () => {
  const nobody = IpRangeList.of([]);
  const anyText = fc.option(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80, unit: 'binary' })), {
    nil: undefined,
  });
  const hop = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4().map((ip) => `${ip}:${1 + (ip.length % 60000)}`),
    fc.ipV6().map((ip) => `[${ip}]:443`),
    fc.string({ maxLength: 20 }),
  );
  const header = fc.oneof(anyText, fc.array(hop, { maxLength: 40 }).map((hops) => hops.join(', ')));
  const trusted = fc
    .array(fc.oneof(fc.constantFrom('127.0.0.1', '10.0.0.0/8', '::1', '2001:db8::/32', '0.0.0.0/0'), fc.string({ maxLength: 20 })), {
      maxLength: 4,
    })
    .map((entries) => IpRangeList.of(entries));

  it('never throws on arbitrary socket addresses, headers and proxy lists; answers a canonical address or nothing', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.ipV4(), fc.ipV6()), header, trusted, (socket, forwarded, proxies) => {
        const got = clientAddress(socket, forwarded, proxies);
        if (got !== undefined) expect(parseAddress(got)?.toString()).toBe(got);
      }),
    );
  });

  it('without trusted proxies, is always the socket address, whatever X-Forwarded-For says', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), anyText), header, (socket, forwarded) => {
        expect(clientAddress(socket, forwarded, nobody)).toBe(socket === undefined ? undefined : parseAddress(socket)?.toString());
      }),
    );
    fc.assert(
      fc.property(fc.ipV4(), header, (socket, forwarded) => {
        expect(clientAddress(socket, forwarded, nobody)).toBe(socket);
        expect(clientAddress(`::ffff:${socket}`, forwarded, nobody)).toBe(socket);
      }),
    );
  });

  it('from an untrusted socket, is the socket address, whatever X-Forwarded-For says', () => {
    const proxies = IpRangeList.of(['10.0.0.0/8']);
    fc.assert(
      fc.property(fc.ipV4(), header, (socket, forwarded) => {
        fc.pre(!socket.startsWith('10.'));
        expect(clientAddress(socket, forwarded, proxies)).toBe(socket);
      }),
    );
  });

  it('behind trusted proxies, is the first untrusted hop from the right, whatever a client wrote to its left', () => {
    const proxies = IpRangeList.of(['10.0.0.0/8', 'fd00::/8']);
    const proxyAddress = fc.oneof(
      fc.integer({ min: 0, max: 0xffffff }).map((n) => v4Text((10 << 24) | n)),
      fc.bigInt({ min: 0n, max: (1n << 120n) - 1n }).map((n) => rfc5952((0xfdn << 120n) | n)),
    );
    const client = fc.oneof(
      v4Number.filter((n) => n >>> 24 !== 10).map(v4Text),
      v6Number.filter((n) => n >> 120n !== 0xfdn).map(rfc5952),
    );
    const withPort = (ip: string, port: boolean) => (!port ? ip : ip.includes(':') ? `[${ip}]:8443` : `${ip}:8443`);
    fc.assert(
      fc.property(
        fc.array(hop, { maxLength: 5 }),
        client,
        fc.array(proxyAddress, { minLength: 1, maxLength: 5 }),
        fc.boolean(),
        (spoofed, who, chain, ports) => {
          const socket = chain.at(-1)!;
          const hops = [...spoofed, withPort(who, ports), ...chain.slice(0, -1).map((p) => withPort(p, ports))];
          expect(clientAddress(socket, hops.join(', '), proxies)).toBe(who);
          expect(clientAddress(socket, hops.join(','), proxies)).toBe(who);
        },
      ),
    );
  });
});
