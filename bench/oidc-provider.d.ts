// oidc-provider 9 ships no type declarations (and @types/oidc-provider describes older majors).
// The bench only uses `new Provider(issuer, config)` and `provider.callback()`.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }
}
