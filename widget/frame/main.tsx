import { render } from 'preact';

render(<p>chat</p>, document.body);
