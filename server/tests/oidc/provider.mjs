// The OAuth 2.0 authorization server of the end-to-end OAuth tests (server/tests/integration/oidc_flow):
// two instances of the npm package `oidc-provider`, each on its own 127.0.0.1 port.
//
//   google     Google-style: refresh tokens for `access_type=offline` (no `offline_access`
//              scope), the Gmail API as the resource server (scopes and audience).
//   microsoft  Microsoft-style routes (`/common/oauth2/v2.0/authorize`, `.../token`): refresh
//              tokens only with `offline_access`, Microsoft Graph as the resource server.
//
// Both: PKCE required (S256 only), the refresh token rotated on every refresh with reuse
// detection (a rotated refresh token presented again is refused and revokes the whole grant),
// opaque access tokens, introspection and revocation for authenticated clients.
//
// Usage: node provider.mjs '<config JSON>'   (config below; every key optional)
//   {"google": INSTANCE, "microsoft": INSTANCE}
//   INSTANCE = {"clients": [{"client_id", "client_secret"?, "redirect_uris": [...]}],
//               "introspectors": [{"client_id", "client_secret"}],   // resource servers
//               "access_token_ttl": seconds (default 3600)}
// Prints one JSON line on stdout with each instance's URLs, then serves until stdin closes
// or SIGTERM. Everything else (oidc-provider's notices) goes to stderr.
//
// Interactions (instead of oidc-provider's development pages, which grant all that is asked):
//   GET  /interaction/{uid}  -> JSON {uid, prompt, details, params}
//   POST /interaction/{uid}  form: login=<address> (login prompt), grant_scopes=<space separated
//        subset of the asked scopes> (consent prompt; default: everything asked), deny=1 (the
//        user refuses: `access_denied` at the client's redirect URI). One form answers every
//        step: each step reads the fields that concern it.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints its notices with console.info (stdout); stdout carries our one JSON line.
console.info = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');

const GMAIL_RESOURCE = 'https://gmail.googleapis.com/';
const GMAIL_SCOPES = [
  'https://mail.google.com/',
  'https://www.googleapis.com/auth/gmail.modify',
  'https://www.googleapis.com/auth/gmail.readonly',
  'https://www.googleapis.com/auth/gmail.compose',
  'https://www.googleapis.com/auth/gmail.send',
  'https://www.googleapis.com/auth/gmail.insert',
  'https://www.googleapis.com/auth/gmail.labels',
  'https://www.googleapis.com/auth/gmail.metadata',
  'https://www.googleapis.com/auth/gmail.settings.basic',
  'https://www.googleapis.com/auth/gmail.settings.sharing',
  // Google Calendar: one consent covers a Google account's mail and calendar.
  'https://www.googleapis.com/auth/calendar',
  'https://www.googleapis.com/auth/calendar.readonly',
  'https://www.googleapis.com/auth/calendar.events',
  'https://www.googleapis.com/auth/calendar.events.readonly',
  'https://www.googleapis.com/auth/calendar.freebusy',
];
const GRAPH_RESOURCE = 'https://graph.microsoft.com/';
const GRAPH_SHORT = [
  'User.Read', 'Mail.Read', 'Mail.ReadBasic', 'Mail.ReadWrite', 'Mail.Send',
  'MailboxSettings.Read', 'MailboxSettings.ReadWrite',
  // Outlook calendars: one consent covers a Microsoft account's mail and calendar
  // (Calendars.ReadBasic is what freebusy.query needs at least).
  'Calendars.ReadBasic', 'Calendars.Read', 'Calendars.ReadWrite',
];
// Microsoft accepts a Graph scope short or with the resource as prefix.
const GRAPH_SCOPES = [...GRAPH_SHORT, ...GRAPH_SHORT.map((s) => `${GRAPH_RESOURCE}${s}`)];

const MICROSOFT_PREFIX = '/common/oauth2/v2.0';

const config = JSON.parse(process.argv[2] || '{}');

function clientMetadata(c, introspector) {
  const secret = c.client_secret;
  return {
    client_id: c.client_id,
    ...(secret ? { client_secret: secret } : {}),
    // Our server (and connector-core) authenticate in the request body; the emulators, as
    // resource servers, with HTTP Basic.
    token_endpoint_auth_method: secret ? (introspector ? 'client_secret_basic' : 'client_secret_post') : 'none',
    redirect_uris: introspector ? [] : (c.redirect_uris || []),
    grant_types: introspector ? [] : ['authorization_code', 'refresh_token'],
    response_types: introspector ? [] : ['code'],
  };
}

async function start(style, cfg) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const google = style === 'google';
  const resource = google ? GMAIL_RESOURCE : GRAPH_RESOURCE;
  const resourceScopes = google ? GMAIL_SCOPES : GRAPH_SCOPES;
  const ttl = cfg.access_token_ttl || 3600;
  // Grants whose consent was asked with Google's `access_type=offline` (in memory, like every
  // other artefact of this server).
  const offlineGrants = new Set();
  const introspectors = new Set((cfg.introspectors || []).map((c) => c.client_id));

  const provider = new Provider(google ? base : `${base}/common/v2.0`, {
    clients: [
      ...(cfg.clients || []).map((c) => clientMetadata(c, false)),
      ...(cfg.introspectors || []).map((c) => clientMetadata(c, true)),
    ],
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub, email: sub };
        },
      };
    },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    extraParams: google ? ['access_type', 'include_granted_scopes'] : [],
    features: {
      devInteractions: { enabled: false },
      introspection: {
        enabled: true,
        // The resource servers (the emulators) may introspect any token; a client its own.
        allowedPolicy: async (_ctx, client, token) => introspectors.has(client.clientId)
          || token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Neither Google nor Microsoft clients send `resource`: the API is the default.
        defaultResource: async () => resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          if (indicator !== resource) throw new errors.InvalidTarget();
          return {
            scope: resourceScopes.join(' '),
            audience: resource,
            accessTokenTTL: ttl,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    pkce: { methods: ['S256'], required: () => true },
    rotateRefreshToken: true,
    // Google: `access_type=offline` gives a refresh token without any scope for it;
    // Microsoft: only `offline_access` does.
    async issueRefreshToken(_ctx, client, code) {
      if (!client.grantTypeAllowed('refresh_token')) return false;
      return code.scopes.has('offline_access') || (google && offlineGrants.has(code.grantId));
    },
    // Grants outlive the browser session (a mailbox connection is long-lived).
    expiresWithSession: async () => false,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    routes: google ? {} : {
      authorization: `${MICROSOFT_PREFIX}/authorize`,
      token: `${MICROSOFT_PREFIX}/token`,
      introspection: `${MICROSOFT_PREFIX}/introspect`,
      revocation: `${MICROSOFT_PREFIX}/revoke`,
      jwks: '/common/discovery/v2.0/keys',
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || ttl,
      RefreshToken: 14 * 24 * 60 * 60,
      Grant: 14 * 24 * 60 * 60,
      Session: 24 * 60 * 60,
      Interaction: 60 * 60,
    },
  });
  const handle = provider.callback();

  server.on('request', (req, res) => {
    const url = new URL(req.url, base);
    if (url.pathname.startsWith('/interaction/')) {
      interaction(provider, req, res, url, offlineGrants).catch((e) => {
        json(res, 400, { error: e.name || 'error', error_description: e.message });
      });
      return;
    }
    if (!google && url.pathname === `${MICROSOFT_PREFIX}/authorize`) {
      // Microsoft issues a refresh token for `offline_access` whatever the prompt;
      // oidc-provider only when consent is prompted. Consent is asked on every
      // authorization here anyway (a new grant), so ask for it explicitly.
      const scopes = (url.searchParams.get('scope') || '').split(' ');
      if (scopes.includes('offline_access') && !url.searchParams.has('prompt')) {
        url.searchParams.set('prompt', 'consent');
        req.url = url.pathname + url.search;
      }
    }
    handle(req, res);
  });

  const at = (route) => `${base}${google ? route : `${MICROSOFT_PREFIX}${route}`}`;
  return {
    issuer: provider.issuer,
    base_url: base,
    authorize_url: at(google ? '/auth' : '/authorize'),
    token_url: at('/token'),
    introspection_url: at(google ? '/token/introspection' : '/introspect'),
    revocation_url: at(google ? '/token/revocation' : '/revoke'),
    close: () => server.close(),
  };
}

function json(res, status, body) {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}

async function form(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function interaction(provider, req, res, url, offlineGrants) {
  const details = await provider.interactionDetails(req, res);
  const {
    uid, prompt, params, session, grantId,
  } = details;
  if (url.pathname !== `/interaction/${uid}`) {
    return json(res, 404, { error: 'not_found' });
  }
  if (req.method === 'GET') {
    return json(res, 200, {
      uid, prompt, params, account: session?.accountId,
    });
  }
  if (req.method !== 'POST') {
    return json(res, 405, { error: 'method_not_allowed' });
  }
  const body = await form(req);
  if (body.get('deny')) {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'The user did not grant access',
    }, { mergeWithLastSubmission: false });
  }
  switch (prompt.name) {
    case 'login': {
      const login = body.get('login') || '';
      if (!login.includes('@')) {
        return json(res, 400, { error: 'invalid_request', error_description: 'login=<address> is required' });
      }
      return provider.interactionFinished(req, res, {
        login: { accountId: login.toLowerCase() },
      }, { mergeWithLastSubmission: false });
    }
    case 'consent': {
      const grant = grantId
        ? await provider.Grant.find(grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const chosen = body.has('grant_scopes')
        ? new Set((body.get('grant_scopes') || '').split(' ').filter(Boolean))
        : null;
      const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
      if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
      if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missingResourceScopes || {})) {
        const granted = scopes.filter((s) => !chosen || chosen.has(s));
        const refused = scopes.filter((s) => chosen && !chosen.has(s));
        if (granted.length) grant.addResourceScope(indicator, granted.join(' '));
        if (refused.length) grant.rejectResourceScope(indicator, refused.join(' '));
      }
      const id = await grant.save();
      if (params.access_type === 'offline') offlineGrants.add(id);
      return provider.interactionFinished(req, res, {
        consent: { grantId: id },
      }, { mergeWithLastSubmission: true });
    }
    default:
      return json(res, 501, { error: 'not_implemented', error_description: prompt.name });
  }
}

const google = await start('google', config.google || {});
const microsoft = await start('microsoft', config.microsoft || {});
const describe = ({ close, ...urls }) => urls;
process.stdout.write(`${JSON.stringify({ google: describe(google), microsoft: describe(microsoft) })}\n`);

const stop = () => {
  google.close();
  microsoft.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The test holds our stdin open; when it ends (even killed), so do we.
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
