/**
 * The two baselines an alg's rounds are measured against, each started as a child process and probed:
 * the floor (bench/floor-server.ts) and oidc-provider (bench/peer-server.ts).
 */
import { randomBytes } from 'node:crypto';
import { startChild, waitUntilListening, type Child } from './child-process';
import { freePort } from './free-port';
import { log } from './log';
import type { Alg, Scenario } from './report';
import type { LoadTarget } from './scenario-rounds';
import { RESOURCE, SCOPE, basicAuth, probe } from './token-request';

export interface Started {
  child: Child;
  target: LoadTarget;
}

/** Starts `child`, waits for `readyUrl`, probes: the child is stopped again if any of it fails. */
async function started(child: Child, readyUrl: string, target: Omit<LoadTarget, 'processes'>, alg: Alg): Promise<Started> {
  try {
    await waitUntilListening(child, readyUrl);
    target.scenario.sample = await probe(target.url, target.authorization, 200, alg);
    return { child, target: { ...target, processes: { pgid: child.proc.pid! } } };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

export async function startFloor(alg: Alg, s: Scenario): Promise<Started> {
  log(`${s.id}: starting bench/floor-server.ts`);
  const port = await freePort();
  const child = startChild(`floor-${alg}`, 'bench/floor-server.ts', {
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    SIGNING_ALG: alg,
    BENCH_CLIENT_ID: 'sa_floor',
  });
  const url = `http://127.0.0.1:${port}/oauth/token`;
  return started(child, `http://127.0.0.1:${port}/`, { scenario: s, url, authorization: basicAuth('sa_floor', 'unused') }, alg);
}

export async function startPeer(alg: Alg, s: Scenario): Promise<Started> {
  log(`${s.id}: starting bench/peer-server.ts (oidc-provider)`);
  const port = await freePort();
  const clientId = 'peer-client';
  const clientSecret = randomBytes(32).toString('base64url');
  const child = startChild(`oidc-provider-${alg}`, 'bench/peer-server.ts', {
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    SIGNING_ALG: alg,
    BENCH_CLIENT_ID: clientId,
    BENCH_CLIENT_SECRET: clientSecret,
    BENCH_SCOPE: SCOPE,
    BENCH_RESOURCE: RESOURCE,
  });
  const url = `http://127.0.0.1:${port}/token`;
  const readyUrl = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
  return started(child, readyUrl, { scenario: s, url, authorization: basicAuth(clientId, clientSecret) }, alg);
}

/** oidc-provider's start-up warnings (development keys, …), as notes of its scenario. */
export function peerWarnings(child: Child, s: Scenario): void {
  const warnings = child.tail().split('\n').filter((l) => /WARNING|NOTICE/.test(l));
  s.notes.push(...new Set(warnings));
}
