// Server errors ({field: message}) shown under the fields they name; the rest on top of the form.

/**
 * entries: Map of field name → {container, error, control}; inputsOf(entry) lists the entry's inputs.
 * Clears earlier errors, places the new ones, and moves focus to the first (or to the top message).
 */
export function showFieldErrors(entries, formError, errors, message, inputsOf) {
  let first = null;
  const unplaced = [];
  for (const entry of entries.values()) {
    entry.error.hidden = true;
    entry.error.textContent = '';
    entry.container.classList.remove('field--invalid');
    for (const input of inputsOf(entry)) input.removeAttribute('aria-invalid');
  }
  for (const [name, text] of Object.entries(errors || {})) {
    const entry = entries.get(name);
    if (!entry) {
      unplaced.push(text);
      continue;
    }
    entry.error.textContent = text;
    entry.error.hidden = false;
    entry.container.hidden = false;
    entry.container.classList.add('field--invalid');
    for (const input of inputsOf(entry)) input.setAttribute('aria-invalid', 'true');
    if (!first) first = entry;
  }
  const top = [message, ...unplaced].filter(Boolean).join(' ');
  formError.textContent = top;
  formError.hidden = !top;
  if (first) first.control.focus();
  else if (top) formError.focus();
}
