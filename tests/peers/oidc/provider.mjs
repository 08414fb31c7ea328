// A real OpenID provider for the tests: the certified npm `oidc-provider`, configured from the JSON in
// OIDC_PEER_CONFIG ({port, client_id, client_secret, redirect_uris, post_logout_redirect_uris,
// accounts: {login: {password, claims}}}). Its login page asks a name, a password and whether a
// one-time code was also given (then amr = ["pwd", "otp"]). Prints "READY <issuer>" once listening.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.cwd(), 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const config = JSON.parse(process.env.OIDC_PEER_CONFIG);
const issuer = `http://127.0.0.1:${config.port}`;
const accounts = config.accounts;

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    post_logout_redirect_uris: config.post_logout_redirect_uris,
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub', 'amr'], profile: ['name', 'staff_number'] },
  conformIdTokenClaims: false, // profile claims in the id_token itself, as hospital IdPs do
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>退出</title></head><body>
${form}<button type="submit" form="op.logoutForm" value="yes" name="logout" id="idp-logout">退出统一身份认证</button>
</body></html>`;
      },
    },
  },
  pkce: { required: () => true },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['bingan-test-peer'] },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...accounts[id].claims }) };
  },
  async loadExistingGrant(ctx) {
    // Bingan is the hospital's own application: no consent screen.
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;

const escape = (text) => String(text).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]));

async function form(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET') {
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>统一身份认证</title></head><body>
<h1>医院统一身份认证</h1>${ctx.query.error ? `<p id="error">${escape(ctx.query.error)}</p>` : ''}
<form method="post" action="/interaction/${details.uid}">
<label>工号或用户名 <input name="login" autofocus></label>
<label>密码 <input name="password" type="password"></label>
<label><input type="checkbox" name="otp" value="1"> 已输入手机动态码</label>
<button type="submit" id="idp-submit">登录</button></form></body></html>`;
    return undefined;
  }
  const body = await form(ctx.req);
  const account = accounts[body.get('login')];
  if (!account || account.password !== body.get('password')) {
    ctx.redirect(`/interaction/${details.uid}?error=${encodeURIComponent('用户名或密码错误')}`);
    return undefined;
  }
  const amr = body.get('otp') ? ['pwd', 'otp'] : ['pwd'];
  await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: body.get('login'), amr } },
    { mergeWithLastSubmission: false });
  return undefined;
});

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${issuer}\n`);
});
