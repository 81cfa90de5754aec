// Server code unminified and with source maps, so that a stack names the route's own file,
// line and function (Node applies the maps: next start runs with --enable-source-maps).
export default {
  experimental: { serverMinification: false, serverSourceMaps: true },
};
