// What the server put in the page: modes, the working-day calendar, its clock, demo users.

function readBoot() {
  const node = document.getElementById('boot');
  try {
    return node ? JSON.parse(node.textContent) : {};
  } catch (error) {
    return {};
  }
}

export const boot = readBoot();
export const modes = boot.modes || [];
export const demoUsers = boot.demo_users || [];
// How far the browser's clock is from the server's (the server's decides deadlines).
export const clockSkew = boot.now ? Date.parse(boot.now) - Date.now() : 0;

/** Now, on the server's clock. */
export function serverNow() {
  return new Date(Date.now() + clockSkew);
}
