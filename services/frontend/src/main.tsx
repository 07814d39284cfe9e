import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, NavLink, Route, Routes } from "react-router-dom";
import { AuthGate } from "./auth/AuthGate";
import { ACCOUNT_PATH, ADMIN_USERS_PATH, INVITE_PATH, SIGN_IN_PATH } from "./auth/session";
import { useAuth } from "./auth/useAuth";
import { UserMenu } from "./auth/UserMenu";
import { AccountPage } from "./pages/AccountPage";
import { AdminUsersPage } from "./pages/AdminUsersPage";
import { BatchPage } from "./pages/BatchPage";
import { InvitePage } from "./pages/InvitePage";
import { JobsPage } from "./pages/JobsPage";
import { NewJobPage } from "./pages/NewJobPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { PlayerPage } from "./pages/PlayerPage";
import { SignInPage } from "./pages/SignInPage";
import { SystemPage } from "./pages/SystemPage";
import { SYSTEM_PATH } from "./system/system";
import "./styles.css";

function Layout({ children }: { children: React.ReactNode }) {
  // Links only once the pages are in reach: signed out, they would lead back to sign-in.
  const auth = useAuth();
  const showLinks = auth.phase !== "checking" && auth.phase !== "signed-out";
  const isAdmin = auth.phase === "signed-in" && auth.user.is_admin;
  // With STEMDECK_AUTH=none the one local user is the admin.
  const seesSystem = isAdmin || auth.phase === "open";
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
              {isAdmin && <NavLink to={ADMIN_USERS_PATH}>Users</NavLink>}
              {seesSystem && <NavLink to={SYSTEM_PATH}>System</NavLink>}
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
  // Account page at all, and /account is any unknown page; nor Users, nor invites.
  const auth = useAuth();
  const signedIn = auth.phase === "signed-in";
  const isAdmin = signedIn && auth.user.is_admin;
  return (
    <Routes>
      <Route path="/" element={<NewJobPage />} />
      <Route path="/jobs" element={<JobsPage />} />
      <Route path="/jobs/:jobId" element={<PlayerPage />} />
      <Route path="/batches/:batchId" element={<BatchPage />} />
      {signedIn && <Route path={ACCOUNT_PATH} element={<AccountPage />} />}
      {isAdmin && <Route path={ADMIN_USERS_PATH} element={<AdminUsersPage />} />}
      {(isAdmin || auth.phase === "open") && <Route path={SYSTEM_PATH} element={<SystemPage />} />}
      {auth.phase !== "open" && <Route path={INVITE_PATH} element={<InvitePage />} />}
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
