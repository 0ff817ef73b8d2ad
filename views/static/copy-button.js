/* global document, navigator */
// The home page's Copy button. A file, not an inline script: the CSP allows only 'self' scripts.
// Without JavaScript the button stays hidden and the field is still there to select and copy.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const field = document.getElementById(button.dataset.copy);
  if (!field) continue;
  button.hidden = false;
  button.addEventListener('click', async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = 'Copied';
    } catch {
      // No clipboard access (plain http off loopback): the text is selected for Ctrl-C / ⌘-C.
      button.textContent = 'Selected: press Ctrl-C';
    }
  });
}
