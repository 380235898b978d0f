import { render } from 'preact';

render(<p>workbench</p>, document.body);
