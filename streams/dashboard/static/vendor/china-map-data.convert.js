// Build province.json and prefecture.json (ECharts-compressed GeoJSON keyed by GB/T 2260 code)
const path = require('path');
const pkg = process.argv[2], out = process.argv[3];
const fs = require('fs');
const china = require(path.join(pkg, 'china.js'));
const WHOLE = new Set(['11', '12', '31', '50', '71', '81', '82']);  // municipalities, TW, HK, MO: one feature
// their own files hold districts: the province's feature stands for them at prefecture level
const SKIP = new Set(['beijing.js', 'tianjin.js', 'shanghai.js', 'chongqing.js', 'taiwan.js', 'xianggang.js', 'aomen.js']);
// The one feature without an id in the package (山南市's main part; its 540500 feature is a sliver).
const FIX = { '山南市': '540500' };
// Codes changed since the package's data: 那曲地区 542400 → 那曲市 540600 (2018).
const RECODE = { '542400': ['540600', '那曲市'] };
const asMulti = (g) => (g.type === 'MultiPolygon' ? g : { type: 'MultiPolygon', coordinates: [g.coordinates], encodeOffsets: [g.encodeOffsets] });
const idOf = (f) => String(f.id || f.properties.id);
const feature = (f, level) => ({ type: 'Feature', id: idOf(f), properties: { adcode: idOf(f), name: f.properties.name, level: level },
  geometry: f.geometry });
const provinces = china.features.map((f) => feature(f, 'province'));
const prefectures = [];
for (const f of china.features) if (WHOLE.has(idOf(f).slice(0, 2))) prefectures.push(feature(f, 'prefecture'));
for (const file of fs.readdirSync(path.join(pkg, 'province')).sort()) {
  if (file === 'index.js' || SKIP.has(file)) continue;
  const data = require(path.join(pkg, 'province', file));
  if (!data.UTF8Encoding || data.UTF8Scale) throw new Error(file + ': unexpected encoding');
  for (const f of data.features) {
    if (!(f.id || (f.properties && f.properties.id))) {
      if (!FIX[f.properties.name]) throw new Error(file + ': feature without id: ' + f.properties.name);
      f.id = FIX[f.properties.name];
    }
    if (RECODE[idOf(f)]) {
      const [code, name] = RECODE[idOf(f)];
      f.id = code;
      f.properties.name = name;
    }
    const same = prefectures.find((p) => p.id === idOf(f));
    if (same) {  // two features of one division: one MultiPolygon
      const a = asMulti(same.geometry), b = asMulti(f.geometry);
      same.geometry = { type: 'MultiPolygon', coordinates: a.coordinates.concat(b.coordinates), encodeOffsets: a.encodeOffsets.concat(b.encodeOffsets) };
      continue;
    }
    prefectures.push(feature(f, 'prefecture'));
  }
}
for (const [name, features] of [['province', provinces], ['prefecture', prefectures]]) {
  fs.writeFileSync(path.join(out, name + '.json'), JSON.stringify({ type: 'FeatureCollection', UTF8Encoding: true, features: features }));
  console.log(name, features.length, features.filter((f) => !f.id.endsWith('00')).map((f) => f.id + f.properties.name).join(' '));
}
