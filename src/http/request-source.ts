import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';
import { clientAddress } from '../limits/client-address';
import type { IpRangeList } from '../limits/ip-ranges';

export interface RequestSource {
  /** The client's address: the socket's, or X-Forwarded-For's when the socket is a trusted proxy. */
  ip: string | undefined;
  userAgent: string | undefined;
}

/** Where a request comes from, for allowlists, brute-force counting and the audit trail. */
export function requestSource(c: Context, trustedProxies: IpRangeList): RequestSource {
  let socketAddress: string | undefined;
  try {
    socketAddress = getConnInfo(c).remote.address;
  } catch {
    socketAddress = undefined; // not served by @hono/node-server (e.g. app.request in a unit test)
  }
  return {
    ip: clientAddress(socketAddress, c.req.header('x-forwarded-for'), trustedProxies),
    userAgent: c.req.header('user-agent'),
  };
}
