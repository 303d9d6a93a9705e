import { parseAddress, type IpRangeList } from './ip-ranges';

/**
 * The address a request comes from. It is the socket's, unless the socket belongs to a trusted proxy: then
 * X-Forwarded-For is read from the right, skipping trusted proxies, and the first untrusted hop is the
 * client. Without trusted proxies the header is ignored, so a client cannot choose its own address.
 */
export function clientAddress(
  socketAddress: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: IpRangeList,
): string | undefined {
  let current = canonical(socketAddress);
  if (current === undefined || trustedProxies.isEmpty || !forwardedFor || !trustedProxies.contains(current)) {
    return current;
  }
  // Bound the work on a hostile header: only the last few hops can matter.
  const hops = forwardedFor.slice(-2048).split(',').map((h) => h.trim()).filter(Boolean).reverse().slice(0, 32);
  for (const hop of hops) {
    const address = canonical(stripPort(hop));
    if (address === undefined) return current; // garbage: trust the last hop we could verify
    current = address;
    if (!trustedProxies.contains(current)) return current;
  }
  return current;
}

function canonical(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  return parseAddress(text)?.toString();
}

/** `1.2.3.4:5678` and `[2001:db8::1]:443` as some proxies write them. */
function stripPort(hop: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracketed) return bracketed[1]!;
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4port ? v4port[1]! : hop;
}
