/**
 * How a layer being built is named: in messages and the report (`name`), and as the key of its
 * progress events (`key`), which stands where a blob's digest would (the layer has none until it
 * is built). The CLI's progress display turns a key back into its name (layerNameOf), so both
 * directions are written here. It imports nothing: the display loads it as the CLI starts.
 */

/** How a layer is named in messages and progress events. */
export interface LayerLabel {
  /** "app layer", "layer 2", "layer 2 (Windows)". */
  name: string;
  /** Key of its progress events: "layer" for the app layer, "layer:2" for others, "…:windows" for a Windows variant. */
  key: string;
}

/** The app layer's label: `layer`, with no number (each --layer's carries its own). */
export const APP_LAYER: LayerLabel = { name: 'app layer', key: 'layer' };

/** The label of the n-th --layer (`config.layers[n - 1]`). */
export function layerLabel(n: number | string): LayerLabel {
  return { name: `layer ${n}`, key: `${APP_LAYER.key}:${n}` };
}

/** What a Windows variant's label adds to its layer's (push/inputs.ts, --platform all). */
const WINDOWS_VARIANT = { name: ' (Windows)', key: ':windows' } as const;

/** The label of a layer's variant for the base's Windows images. */
export function windowsVariant(label: LayerLabel): LayerLabel {
  return { name: `${label.name}${WINDOWS_VARIANT.name}`, key: `${label.key}${WINDOWS_VARIANT.key}` };
}

/** True for the key of a layer being built (any of the labels above), rather than a blob's digest. */
export function isLayerKey(key: string): boolean {
  return key === APP_LAYER.key || key.startsWith(`${APP_LAYER.key}:`);
}

/** The name of the layer whose label has `key` (isLayerKey): "app layer (Windows)" for "layer:windows", which once read "layer windows". */
export function layerNameOf(key: string): string {
  const windows = key.endsWith(WINDOWS_VARIANT.key);
  const own = windows ? key.slice(0, -WINDOWS_VARIANT.key.length) : key;
  const label = own === APP_LAYER.key ? APP_LAYER : layerLabel(own.slice(APP_LAYER.key.length + 1));
  return windows ? windowsVariant(label).name : label.name;
}
