// Runs before the page paints (a classic script, not a module), so a chosen theme never flashes the other one.
try {
  const theme = localStorage.getItem('labellens.theme');
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
} catch {
  // Storage blocked: follow the system setting.
}
