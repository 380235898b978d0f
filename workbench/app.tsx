/** The workbench's top level: sign-in, or the three columns once signed in. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { Conversation } from './conversation.js';
import type { Controller, State } from './controller.js';
import { Details } from './details.js';
import { askNotificationPermission } from './notify.js';
import { Sidebar } from './sidebar.js';

export const ControllerContext = createContext<Controller | null>(null);

export function useController(): Controller {
  const ctl = useContext(ControllerContext);
  if (!ctl) throw new Error('no controller');
  return ctl;
}

export function App({ controller }: { controller: Controller }) {
  const [, setVersion] = useState(0);
  useEffect(() => controller.subscribe(() => setVersion((v) => v + 1)), [controller]);
  const state = controller.state;
  const total = state.auth ? controller.totalUnread : 0;

  useEffect(() => {
    document.title = total > 0 ? `(${total}) Workbench` : 'Workbench';
  }, [total]);

  useEffect(() => {
    const seen = () => controller.markSelectedRead();
    document.addEventListener('visibilitychange', seen);
    window.addEventListener('focus', seen);
    return () => {
      document.removeEventListener('visibilitychange', seen);
      window.removeEventListener('focus', seen);
    };
  }, [controller]);

  return (
    <ControllerContext.Provider value={controller}>
      {state.auth ? <Shell state={state} /> : <Login state={state} />}
      <Notices state={state} />
    </ControllerContext.Provider>
  );
}

function Login({ state }: { state: State }) {
  const ctl = useController();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    // a click or Enter is the user gesture browsers want before they ask
    void askNotificationPermission();
    void ctl.login(email, password);
  };
  return (
    <main class="login">
      <form class="login-card" onSubmit={submit} aria-labelledby="login-title" noValidate>
        <div class="brand brand-lg">
          <span class="brand-mark" aria-hidden="true" />
          <span>Workbench</span>
        </div>
        <h1 id="login-title">Sign in</h1>
        <p class="muted">Answer your visitors' chats in real time.</p>
        <label class="field">
          <span>Email</span>
          <input data-testid="wb-email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} autoFocus />
        </label>
        <label class="field">
          <span>Password</span>
          <input data-testid="wb-password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        {state.loginError && (
          <p class="form-error" role="alert" data-testid="wb-login-error">
            {state.loginError}
          </p>
        )}
        <button class="btn btn-primary btn-block" type="submit" data-testid="wb-login" disabled={state.loggingIn || !email || !password}>
          {state.loggingIn ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}

function Shell({ state }: { state: State }) {
  const selected = state.selected ? state.convs[state.selected] : undefined;
  return (
    <div class="shell">
      <Sidebar state={state} />
      <main class="main" aria-label="Conversation">
        {selected ? (
          <Conversation key={selected.id} conv={selected} state={state} />
        ) : (
          <div class="empty-main">
            <div class="empty-illustration" aria-hidden="true" />
            <h2>{state.booting ? 'Loading your conversations…' : 'No conversation selected'}</h2>
            <p class="muted">{state.queue.length > 0 ? 'Accept a visitor from the queue to start chatting.' : 'New visitors will appear in the queue on the left.'}</p>
          </div>
        )}
      </main>
      <aside class="details" aria-label="Visitor details">
        {selected ? <Details conv={selected} /> : <p class="muted details-empty">Visitor details appear here.</p>}
      </aside>
    </div>
  );
}

function Notices({ state }: { state: State }) {
  const ctl = useController();
  return (
    <div class="notices" aria-live="polite">
      {state.notices.map((n) => (
        <div key={n.id} class={`notice notice-${n.kind}`} role={n.kind === 'error' ? 'alert' : 'status'} data-testid="wb-notice">
          <span>{n.text}</span>
          <button class="icon-btn" type="button" aria-label="Dismiss" onClick={() => ctl.dropNotice(n.id)}>
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
