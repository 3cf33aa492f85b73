// The API key for a Worker whose owner has set API_KEY and not ALLOW_PAGE_WITHOUT_KEY (README,
// "Security and limits"): asked for after a 401, kept for this tab only (sessionStorage), sent as
// "Authorization: Bearer <key>". Without a key configured the form never shows.

const STORAGE_KEY = 'mnist-edge.api-key';
const form = document.getElementById('key-form');
const input = document.getElementById('api-key');
let retry = null;

/** Headers that carry the key, if one was given. */
export function authHeaders() {
  const key = sessionStorage.getItem(STORAGE_KEY);
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** After a 401: forget the key that failed, ask for one, then call `again`. */
export function askForKey(again) {
  sessionStorage.removeItem(STORAGE_KEY);
  retry = again;
  form.hidden = false;
  input.focus();
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const key = input.value.trim();
  if (!key) return;
  sessionStorage.setItem(STORAGE_KEY, key);
  input.value = '';
  form.hidden = true;
  retry?.();
});
