// ABIs the user adds (kept in this browser's localStorage) to decode calls, logs and errors beyond the standards.
import { PROJECT, removeAbi, saveAbi, savedAbis, STANDARDS } from '../abi.js';
import { h, section, table } from '../dom.js';

export async function render() {
  const list = h('div');
  const draw = () => list.replaceChildren(table(['Name', 'Contract', ''], Object.entries(savedAbis()).map(([label, { address }]) => [
    label, address || 'any contract', h('button', { type: 'button', onclick: () => { removeAbi(label); draw(); } }, 'Remove')]),
  { empty: 'No ABIs added yet.' }));
  draw();
  const status = h('p', { role: 'status' });
  const label = h('input', { name: 'label', placeholder: 'name, e.g. MyVault', required: true, 'aria-label': 'ABI name' });
  const address = h('input', { name: 'address', placeholder: 'contract address (empty: any contract)', 'aria-label': 'Contract address', pattern: '0x[0-9a-fA-F]{40}' });
  const text = h('textarea', { name: 'abi', rows: 8, placeholder: 'ABI JSON (the "abi" array of a Hardhat or Foundry artifact)', 'aria-label': 'ABI JSON', required: true });
  const file = h('input', { type: 'file', accept: '.json,application/json', 'aria-label': 'ABI file' });
  file.addEventListener('change', async () => {
    const content = await file.files[0].text();
    try {
      const parsed = JSON.parse(content);
      text.value = JSON.stringify(Array.isArray(parsed) ? parsed : parsed.abi);
    } catch (e) {
      status.textContent = `Not JSON: ${e.message}`;
    }
  });
  const submit = (event) => {
    event.preventDefault();
    try {
      saveAbi(label.value.trim(), address.value.trim(), text.value);
      status.textContent = `Saved ${label.value.trim()}.`;
      draw();
    } catch (e) {
      status.textContent = `Not a valid ABI: ${e.message}`;
    }
  };
  return h('div', null,
    section('Your ABIs', list),
    section('Add an ABI', h('form', { class: 'stack', onsubmit: submit }, label, address, file, text, h('button', { type: 'submit' }, 'Save'), status)),
    section('Built in', h('p', null, `Calls, events and errors of the ${Object.keys(STANDARDS).join(', ')} standards and of the `
      + `project's contracts (${Object.keys(PROJECT).join(', ')}) decode without an upload.`)));
}
