// Runs before the page paints (a classic script, not a module), so the page never flashes the other theme.
// data-theme is always set: the stored choice, else the system setting (followed live while nothing is stored).
// The stylesheet then needs a single set of dark tokens, keyed on [data-theme="dark"].
(() => {
  const root = document.documentElement;
  const system = matchMedia('(prefers-color-scheme: dark)');
  function stored() {
    try {
      const theme = localStorage.getItem('labellens.theme');
      return theme === 'light' || theme === 'dark' ? theme : null;
    } catch {
      return null; // Storage blocked: follow the system setting.
    }
  }
  function apply() {
    root.dataset.theme = stored() ?? (system.matches ? 'dark' : 'light');
  }
  apply();
  system.addEventListener('change', apply);
})();
