import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles/base.css';
import './styles/editor.css';
import { App } from './App.jsx';
import { captureToken } from './auth.js';

// The token from the printed URL goes to sessionStorage and leaves the address bar at once.
const cleaned = captureToken(window.location, window.sessionStorage);
if (cleaned !== null) window.history.replaceState(window.history.state, '', cleaned);

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
