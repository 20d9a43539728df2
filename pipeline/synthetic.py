"""Synthetic notes in the Kaggle mtsamples layout: the project's bundled data for tests and local runs.

No mtsamples text is shipped. This generator writes seeded, made-up notes whose structure mirrors the
real set where it matters to the pipeline: specialty-specific vocabulary with shared clinical filler,
a long-tailed class distribution (23 classes with >= 30 rows plus rare ones the class rule drops),
document-type labels (Surgery, Consult, ...) whose notes borrow a specialty's vocabulary, the same
note filed under two labels, exact duplicate rows, empty transcriptions, and a ``keywords`` column that
names the label (as the real one does, which is why it is never a model input).

``python -m pipeline.synthetic --out pipeline/data/mtsamples-synthetic.csv`` regenerates the bundled file.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pandas as pd

BUNDLED_CSV = Path(__file__).resolve().parent / "data" / "mtsamples-synthetic.csv"  # in the wheel too

# fmt: off
#: Specialty -> (row count, distinctive vocabulary). Counts mimic mtsamples' long tail, scaled down.
SPECIALTIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "Cardiovascular / Pulmonary": (80, ("coronary artery", "ejection fraction", "atrial fibrillation", "echocardiogram", "stent", "dyspnea", "bronchoscopy", "pleural effusion", "troponin", "catheterization")),
    "Orthopedic": (76, ("fracture", "arthroscopy", "meniscus", "rotator cuff", "tendon", "knee", "femur", "cast", "range of motion", "ligament")),
    "Gastroenterology": (58, ("colonoscopy", "polyp", "esophagogastroduodenoscopy", "reflux", "gastritis", "biopsy of the antrum", "cecum", "hemorrhoids", "dysphagia", "cholecystitis")),
    "Neurology": (56, ("seizure", "electroencephalogram", "migraine", "neuropathy", "gait", "cranial nerves", "tremor", "multiple sclerosis", "aphasia", "deep tendon reflexes")),
    "Obstetrics / Gynecology": (48, ("gestation", "cesarean", "uterus", "ovarian cyst", "cervix", "fetal heart", "pap smear", "menstrual", "laparoscopic tubal", "postpartum")),
    "Urology": (46, ("prostate", "cystoscopy", "bladder", "ureteral stent", "hematuria", "kidney stone", "PSA", "urethra", "scrotal", "lithotripsy")),
    "ENT - Otolaryngology": (40, ("tonsillectomy", "sinusitis", "tympanic membrane", "myringotomy", "septoplasty", "larynx", "hearing loss", "turbinate", "adenoid", "otitis media")),
    "Neurosurgery": (38, ("laminectomy", "craniotomy", "disc herniation", "spinal fusion", "dura", "cervical discectomy", "subdural hematoma", "foraminotomy", "pedicle screws", "shunt")),
    "Hematology - Oncology": (38, ("chemotherapy", "lymphoma", "anemia", "neutropenia", "metastatic", "bone marrow", "carcinoma staging", "platelet count", "radiation oncology", "tumor markers")),
    "Ophthalmology": (36, ("cataract", "intraocular lens", "retina", "glaucoma", "visual acuity", "phacoemulsification", "cornea", "macular", "intraocular pressure", "vitrectomy")),
    "Nephrology": (36, ("dialysis", "creatinine", "renal failure", "glomerular filtration", "proteinuria", "fistula", "hyperkalemia", "nephrotic", "kidney transplant", "electrolytes")),
    "Pediatrics - Neonatal": (34, ("infant", "newborn", "immunizations", "growth chart", "developmental milestones", "formula feeding", "bronchiolitis", "well child", "neonatal jaundice", "pediatric")),
    "Pain Management": (33, ("epidural steroid injection", "facet block", "radiofrequency ablation", "fluoroscopy", "chronic pain", "opioid", "trigger point", "lumbar radiculopathy", "nerve block", "analgesia")),
    "Psychiatry / Psychology": (32, ("depression", "anxiety", "bipolar", "suicidal ideation", "psychotherapy", "affect", "hallucinations", "antidepressant", "mental status", "insight and judgment")),
    "Podiatry": (31, ("bunion", "hallux valgus", "plantar fasciitis", "toenail", "metatarsal", "onychomycosis", "heel spur", "diabetic foot", "bunionectomy", "ankle")),
    "Dermatology": (12, ("rash", "eczema", "psoriasis", "melanoma", "lesion", "pruritus", "dermatitis", "mole", "acne", "cryotherapy")),
    "Dentistry": (10, ("tooth", "molar", "extraction", "gingiva", "dental caries", "root canal", "mandible", "periodontal", "crown", "occlusion")),
    "Sleep Medicine": (8, ("sleep apnea", "polysomnography", "CPAP", "insomnia", "snoring", "hypersomnolence", "REM", "oxygen desaturation", "narcolepsy", "sleep latency")),
    "Rheumatology": (6, ("rheumatoid arthritis", "lupus", "synovitis", "methotrexate", "gout", "joint swelling", "ANA", "vasculitis", "morning stiffness", "uric acid")),
    "Allergy / Immunology": (5, ("allergic rhinitis", "immunotherapy", "urticaria", "anaphylaxis", "skin testing", "antihistamine", "IgE", "angioedema", "nasal spray", "hives")),
}

#: Document-type labels: (row count, markers). Their notes borrow a specialty's vocabulary.
DOCUMENT_TYPES: dict[str, tuple[int, tuple[str, ...]]] = {
    "Surgery": (150, ("preoperative diagnosis", "postoperative diagnosis", "anesthesia", "estimated blood loss", "procedure in detail", "sterile fashion")),
    "Consult - History and Phy.": (90, ("history of present illness", "review of systems", "family history", "social history", "thank you for this consultation", "past medical history")),
    "Radiology": (55, ("impression", "findings", "contrast", "CT scan", "MRI", "ultrasound")),
    "General Medicine": (50, ("annual physical", "hypertension", "diabetes mellitus", "medications", "vital signs", "follow up")),
    "SOAP / Chart / Progress Notes": (40, ("subjective", "objective", "assessment", "plan", "progress", "interval history")),
    "Discharge Summary": (36, ("admission diagnosis", "discharge diagnosis", "hospital course", "discharge medications", "condition on discharge", "disposition")),
    "Emergency Room Reports": (32, ("chief complaint", "emergency department", "triage", "disposition", "stable condition", "arrived by ambulance")),
    "Office Notes": (31, ("office visit", "return visit", "counseled", "refill", "the patient was seen", "recheck")),
    "Letters": (9, ("dear doctor", "sincerely", "referral", "thank you for referring", "regards", "enclosed")),
}
# fmt: on

FILLER = (
    "the patient",
    "was seen today",
    "denies fever",
    "blood pressure",
    "heart rate",
    "no known drug allergies",
    "history of",
    "currently taking",
    "physical examination",
    "alert and oriented",
    "tolerated well",
    "will follow up",
    "in two weeks",
    "the risks and benefits",
    "were discussed",
    "informed consent",
    "normal limits",
    "no acute distress",
    "labs were reviewed",
    "medications reviewed",
    "left side",
    "right side",
    "mild",
    "moderate",
    "severe",
    "improved",
    "unchanged",
    "stable",
)
VISIT_KINDS = ("Consult", "Procedure", "Follow-up", "Evaluation")
SECTIONS = ("HISTORY", "EXAMINATION", "FINDINGS", "ASSESSMENT", "PLAN")
AGES = range(18, 90)


def _sentence(rng: random.Random, terms: tuple[str, ...], n_terms: int, n_filler: int) -> str:
    words = rng.sample(terms, min(n_terms, len(terms))) + rng.sample(FILLER, n_filler)
    rng.shuffle(words)
    return " ".join(words).capitalize() + "."


def _note(rng: random.Random, terms: tuple[str, ...], markers: tuple[str, ...] = ()) -> str:
    """A note of 5 sections; specialty terms are mixed with filler and a little off-topic noise."""
    noise_pool = rng.choice(list(SPECIALTIES.values()))[1]
    parts = []
    for section in SECTIONS:
        body = " ".join(
            _sentence(rng, terms if rng.random() > 0.15 else noise_pool, rng.randint(1, 3), rng.randint(3, 6))
            for _ in range(rng.randint(1, 3))
        )
        if markers and rng.random() < 0.7:
            body = f"{rng.choice(markers).capitalize()}: {body}"
        parts.append(f"{section}:,  {body}")
    age = rng.choice(AGES)
    return f"This {age}-year-old {rng.choice(('male', 'female'))} presents. " + ",".join(parts)


def generate(seed: int = 7) -> pd.DataFrame:
    """Build the synthetic frame (rows shuffled, Kaggle column order, 0-based unnamed index)."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    clinical = list(SPECIALTIES.items())
    for label, (count, terms) in clinical:
        for _ in range(count):
            topic = rng.choice(terms)
            rows.append(
                {
                    "description": f"Patient seen for {topic}.",
                    "medical_specialty": label,
                    "sample_name": f"{topic.title()} - {rng.choice(VISIT_KINDS)}",
                    "transcription": _note(rng, terms),
                    "keywords": f"{label.lower()}, {', '.join(rng.sample(terms, 3))}",
                }
            )
    for label, (count, markers) in DOCUMENT_TYPES.items():
        for _ in range(count):
            specialty, (_, terms) = rng.choice(clinical)
            if rng.random() < 0.35:  # the same note filed under a specialty and a document type
                donors = [r for r in rows if r["medical_specialty"] == specialty]
                text = rng.choice(donors)["transcription"]
            else:
                text = _note(rng, terms, markers)
            rows.append(
                {
                    "description": f"{rng.choice(markers).capitalize()} regarding {rng.choice(terms)}.",
                    "medical_specialty": label,
                    "sample_name": f"{rng.choice(terms).title()} - {label.split(' ')[0]}",
                    "transcription": text,
                    "keywords": f"{label.lower()}, {', '.join(rng.sample(markers, 2))}",
                }
            )
    for index in rng.sample(range(len(rows)), 6):  # exact duplicate rows
        rows.append(dict(rows[index]))
    for index in rng.sample(range(len(rows)), 4):  # empty transcriptions, as in the real file
        rows[index] = {**rows[index], "transcription": ""}
    rng.shuffle(rows)
    return pd.DataFrame(
        rows, columns=["description", "medical_specialty", "sample_name", "transcription", "keywords"]
    )


def write(path: Path = BUNDLED_CSV, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    generate(seed).to_csv(path, index=True, lineterminator="\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description="Write the synthetic mtsamples-layout CSV.")
    parser.add_argument("--out", type=Path, default=BUNDLED_CSV)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(write(args.out, args.seed))


if __name__ == "__main__":
    main()
