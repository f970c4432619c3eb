"""Read a metrics CSV (Lightning metrics.csv, YOLO results.csv, ...) into series: one per named
column, keeping the rows where that column is filled. Data only."""
import csv, math, sys
sys.path.insert(0, __file__.rsplit("/", 1)[0])
from hf import view

def csv_series(path, step_col, cols, step_fn=int, rename=None):
    rows = list(csv.DictReader(open(path)))
    rows = [{k.strip(): (v.strip() if isinstance(v, str) else v) for k, v in r.items() if k} for r in rows]
    out = {}
    for r in rows:
        for c in cols:
            v = r.get(c, "")
            if v in ("", None):
                continue
            s = out.setdefault((rename or {}).get(c, c), {"steps": [], "values": []})
            st = step_fn(r[step_col])
            if s["steps"] and st <= s["steps"][-1]:
                continue
            fv = float(v)
            s["steps"].append(st)
            s["values"].append(fv if math.isfinite(fv) else ("NaN" if math.isnan(fv) else ("Infinity" if fv > 0 else "-Infinity")))
    return out

if __name__ == "__main__":
    rows = list(csv.DictReader(open(sys.argv[1])))
    print(len(rows), "rows; columns:", list(rows[0].keys()))
    view(csv_series(sys.argv[1], sys.argv[2], sys.argv[3].split(","), step_fn=lambda x: int(float(x))), 40)
