/** The agent workbench: served at /workbench/, built by `npm run build:ui`. */
import { render } from 'preact';
import { App } from './app.js';
import { Controller } from './controller.js';
import { unlockAudioOnGesture } from './notify.js';
import './styles.css';

unlockAudioOnGesture();
render(<App controller={new Controller()} />, document.getElementById('app')!);
