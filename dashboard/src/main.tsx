/** Entry: /dashboard is the admin's page, /dashboard/me a key holder's. */
import { render } from 'preact';
import { AdminApp } from './admin-app.js';
import { MePage } from './pages/me-page.js';
import './styles.css';

const isMe = /\/dashboard\/me\/?$/.test(location.pathname);
render(isMe ? <MePage /> : <AdminApp />, document.getElementById('app')!);
