// A real OpenID Connect provider on 127.0.0.1 for the browser sign-in test: panva's
// oidc-provider (OpenID Certified) with its own login and consent pages, one user, and
// Stemdeck registered as a confidential client that must use PKCE (S256).
//
// Settings come from the environment (tests/e2e/test_oidc_sign_in.py sets them):
//   PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, USER_ID, USER_EMAIL, USER_NAME, and
//   ISSUER (default http://127.0.0.1:PORT; it listens on 127.0.0.1 whatever the name)
// It prints "listening <issuer>" once it answers, and stops on SIGTERM.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const port = Number(env("PORT"));
const issuer = process.env.ISSUER || `http://127.0.0.1:${port}`;
const user = { id: env("USER_ID"), email: env("USER_EMAIL"), name: env("USER_NAME") };

// A fresh signing key each run: nothing secret lives in the repository.
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: "jwk" }), kid: "test-key", use: "sig", alg: "RS256" };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env("CLIENT_ID"),
      client_secret: env("CLIENT_SECRET"),
      redirect_uris: [env("REDIRECT_URI")],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { methods: ["S256"], required: () => true },
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  // The provider's own login and consent pages (any password signs the one user in).
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    if (id !== user.id) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: user.email, email_verified: true, name: user.name };
      },
    };
  },
});

const server = provider.listen(port, "127.0.0.1", () => console.log(`listening ${issuer}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
