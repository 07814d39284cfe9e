import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, NavLink, Route, Routes } from "react-router-dom";
import { AuthGate } from "./auth/AuthGate";
import { ACCOUNT_PATH, SIGN_IN_PATH } from "./auth/session";
import { useAuth } from "./auth/useAuth";
import { UserMenu } from "./auth/UserMenu";
import { AccountPage } from "./pages/AccountPage";
import { JobsPage } from "./pages/JobsPage";
import { NewJobPage } from "./pages/NewJobPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { PlayerPage } from "./pages/PlayerPage";
import { SignInPage } from "./pages/SignInPage";
import "./styles.css";

function Layout({ children }: { children: React.ReactNode }) {
  // Links only once the pages are in reach: signed out, they would lead back to sign-in.
  const phase = useAuth().phase;
  const showLinks = phase !== "checking" && phase !== "signed-out";
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <NavLink to="/" className="brand" aria-label="Stemdeck home">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span>Stemdeck</span>
        </NavLink>
        <div className="topbar-end">
          {showLinks && (
            <nav aria-label="Main">
              <NavLink to="/" end>
                New job
              </NavLink>
              <NavLink to="/jobs" end>
                Jobs
              </NavLink>
            </nav>
          )}
          <UserMenu />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

function AppRoutes() {
  // An account exists only for someone signed in: with STEMDECK_AUTH=none there is no
  // Account page at all, and /account is any unknown page.
  const signedIn = useAuth().phase === "signed-in";
  return (
    <Routes>
      <Route path="/" element={<NewJobPage />} />
      <Route path="/jobs" element={<JobsPage />} />
      <Route path="/jobs/:jobId" element={<PlayerPage />} />
      {signedIn && <Route path={ACCOUNT_PATH} element={<AccountPage />} />}
      <Route path={SIGN_IN_PATH} element={<SignInPage />} />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <Layout>
        <AuthGate>
          <AppRoutes />
        </AuthGate>
      </Layout>
    </BrowserRouter>
  </StrictMode>,
);
