"""The hypothesis lab from Python: does the step size change how GD's iterations to solve
grow with n on the worst-case data set? (The same sweep as

    python -m core sweep --base 'dataset=worst_case&max_iters=2000' \
        --vary n=20:160:x2 --vary algorithm=gd,normalized_gd --vary step_size=10,100 \
        --measure iterations_to_solve --fit power

and as the lab page's link printed below.) Run: ``python docs/lab_example.py``; the test
suite runs it too."""
from core.analysis import lab

table = lab.sweep("dataset=worst_case&max_iters=2000",
                  vary={"n": "20:160:x2", "algorithm": "gd,normalized_gd", "step_size": "10,100"},
                  measures=["iterations_to_solve", "final_loss"])
print(table[["n", "algorithm", "step_size", "iterations_to_solve"]].to_string(index=False))

# One slope per (algorithm, step size): GD's count grows like n, normalized GD's does not.
fits = lab.fit(table, x="n", measure="iterations_to_solve", kind="power")
print(fits[["algorithm", "step_size", "slope", "ci_low", "ci_high", "censored"]].to_string(index=False))
gd = fits[fits.algorithm == "gd"].index[0]
normalized = fits[fits.algorithm == "normalized_gd"].index[0]
print(lab.compare(fits, gd, normalized).sentence)
print("view:", lab.lab_link(table.attrs, measure="iterations_to_solve", x="n", fit="power"))
