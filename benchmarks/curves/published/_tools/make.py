"""Write one published curve file from series already read out of its source (hf.py, csvs.py).
Usage from a build script: make(id, title, source, field, logging, series, labels, dont_care, checked, chance)."""
import json, os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

def make(id, title, source, field, logging, series, labels=(), dont_care=(), checked="", chance=None, rename=None):
    if rename:
        series = {rename.get(k, k): v for k, v in series.items()}
    d = {"id": id, "title": title, "source": dict(type="published", **source), "field": field, "logging": logging,
         "series": series, "labels": list(labels), "dont_care": list(dont_care), "checked": checked}
    if chance is not None:
        d["chance_level"] = chance
    with open(os.path.join(OUT, id + ".json"), "w") as f:
        f.write("{\n")
        items = list(d.items())
        for i, (k, v) in enumerate(items):
            if k == "series":
                f.write(' "series": {\n')
                for j, (sk, sv) in enumerate(v.items()):
                    f.write(f'  {json.dumps(sk)}: {{"steps": {json.dumps(sv["steps"])},\n    "values": {json.dumps(sv["values"])}}}')
                    f.write(",\n" if j < len(v) - 1 else "\n")
                f.write(" }")
            else:
                f.write(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}")
            f.write(",\n" if i < len(items) - 1 else "\n")
        f.write("}\n")
