/**
 * Verifying this service's access tokens in a resource API: `import { createVerifier } from 'cc-token-service/verify'`.
 * RFC 9068 JWT access tokens through the issuer's JWKS (jose), scopes, DPoP (RFC 9449), and middleware for
 * Hono and Express. Imports nothing of the service that touches a database.
 */
export { createVerifier, DEFAULT_ALGORITHMS } from './verifier';
export type { VerifiableRequest, Verifier, VerifierOptions, VerifyOptions } from './verifier';
export type { AuthorizationDetail, VerifiedToken } from './claims';
export { can } from './can';
export type { PermissionContext } from './can';
export { errorResponse, TokenVerificationError, wwwAuthenticate } from './errors';
export type { AuthScheme, ChallengeOptions, ErrorResponse, TokenErrorCode } from './errors';
export { accessTokenHash, DPOP_PROOF_ALGS, MemoryReplayCache } from './dpop-proof';
export type { DpopReplayStore } from './dpop-proof';
export { verifyHono } from './hono';
export type { MiddlewareOptions, TokenVariables } from './hono';
export { verifyExpress } from './express';
