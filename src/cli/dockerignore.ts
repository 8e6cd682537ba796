// .dockerignore patterns for the client side of a build: the same rules the daemon applies (src/build/dockerignore.ts).
export { parseDockerignore, isIgnored, type IgnorePattern } from '../build/dockerignore.js';
