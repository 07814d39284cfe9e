import { useCallback } from "react";
import { useLocation } from "react-router-dom";
import { api } from "../api/client";
import { oidcLoginHref, oidcProblemText } from "../auth/oidc";
import { PasswordSignIn } from "../auth/PasswordSignIn";
import { useAuth } from "../auth/useAuth";
import { useLoaded } from "../lib/useLoaded";
import { useTitle } from "../lib/useTitle";

/**
 * The ways this server signs people in: its provider's "Sign in with …" (a link: the
 * browser goes there and comes back signed in) and the password form, unless the server
 * runs OIDC only. After a sign-in at the provider that did not work, says why.
 */
export function SignInPage() {
  useTitle("Sign in");
  const auth = useAuth();
  const location = useLocation();
  const methods = useLoaded(useCallback(() => api.signInMethods(), []));
  const query = new URLSearchParams(location.search);
  const expired = auth.phase === "signed-out" && auth.reason === "session_expired";
  const oidc = methods.data?.oidc ?? null;
  // Nothing until the server says (no form that then vanishes); when it cannot say, the
  // form, whose own errors then explain.
  const passwords = methods.data ? methods.data.password : methods.error !== null;
  const problem = oidcProblemText(query.get("oidc_error"), oidc?.label ?? "");

  return (
    <section className="panel narrow sign-in">
      <h1>Sign in</h1>
      <p className="muted">
        {expired ? "Your session has ended. Sign in again to carry on where you were." : "Sign in to split and play your songs."}
      </p>
      {problem && (
        <p className="error" role="alert" data-testid="oidc-problem">
          {problem}
        </p>
      )}
      {oidc && (
        <a
          className={`button provider-sign-in${passwords ? "" : " primary"}`}
          href={oidcLoginHref(oidc.login_url, query.get("next"))}
        >
          {oidc.label}
        </a>
      )}
      {oidc && passwords && (
        <p className="sign-in-or muted">
          or with your email and password
        </p>
      )}
      {passwords && <PasswordSignIn />}
    </section>
  );
}
