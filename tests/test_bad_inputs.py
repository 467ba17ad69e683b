"""The bad-input battery (issue 10): every command, fed what users get wrong.

Each case of :data:`CASES` runs the real CLI in-process from a scratch directory holding a
few prepared inputs (a corrupt, a truncated and a text "weights" file, an empty folder, a
one-class folder, a folder of undecodable images, one with a truncated image, a photograph,
one ``zoo adapt`` run of ResNet-18, and tiny random DCGAN, cGAN, StarGAN and SRGAN
checkpoints). Each must exit with the given non-zero code and exactly one line on stderr,
``Error: ...`` starting with the given text (``@`` = the scratch directory), with no
traceback and no file or directory created, changed or removed anywhere under the scratch
directory (default ``runs/`` outputs and the earlier run in ``--out`` included).

:data:`NOT_WEIGHTS_CASES` (issue 16) give every command that reads a weights file
(:data:`WEIGHT_READERS`) each file of :data:`NOT_WEIGHTS` that is no checkpoint (an empty
file, text, JSON, YAML, an HTML page, a Git LFS pointer, a photograph renamed ``.pth``,
archives, a ``torch.save`` zip cut short, a truncated safetensors file, pickles holding
code, a TorchScript model): the one error line names what the file is and what was
expected, with the same promises.

:data:`PLUGIN_CASES` do the same with a broken third-party plugin installed (the recipe of
tests/test_plugin_isolation.py): one that cannot be imported, whose hooks raise, or that
contributes a data set under a name already taken.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_user_error, run
from PIL import Image
from test_plugin_isolation import BUILD_RAISE, DATASETS_RAISE, DUPLICATE_DATASET, IMPORT_ERROR, LOADER_RAISE, SPECS_RAISE, make_plugin  # noqa: F401

# (arguments, exit code, the error line's text after "Error: ", up to 90 characters)
CASES = [
    ("info nosuchmodel", 2, "unknown model 'nosuchmodel'; run 'zoo list' to see every model"),
    ("info resnt50", 2, "unknown model 'resnt50' (did you mean: resnet50, resnet50v2, resnet152?)"),
    ("bench nosuchmodel", 2, "unknown model 'nosuchmodel'; run 'zoo list' to see every model"),
    ("bench resnet18 --batch-size 0", 2, "--batch-size must be at least 1, got 0"),
    ("bench resnet18 --img-size 1", 1, "resnet18: img_size 1 is below the minimum 32 of resnet18"),
    ("bench resnet18 --device cuda", 1, "--device cuda requested but CUDA is not available (torch 2.14.1+cu130 built with CUDA 13.0"),
    ("bench resnet18 --amp fp8", 2, "unknown --amp 'fp8'; valid: bf16, fp16 (or leave it out for fp32)"),
    ("bench resnet18 --budget -1", 2, "--budget must be a positive number of seconds, got -1.0"),
    ("list --kind cnn", 2, "unknown kind 'cnn'; valid: backbone, gan"),
    ("train nosuchmodel --data digits", 2, "unknown model 'nosuchmodel'; run 'zoo list' to see every model"),
    ("train resnet18", 2, "--data is required: an ImageFolder directory or a built-in data set such as digits"),
    ("train resnet18 --data nosuchdata", 2, "--data 'nosuchdata' is neither an existing directory nor a built-in data set; built-in: di"),
    ("train resnet18 --data digits:0-42", 2, "--data digits has no class '10' (did you mean: 1, 0?); valid: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9"),
    ("train resnet18 --data digits:7", 2, "--data digits:7 has 1 class (7); a classifier needs at least 2"),
    ("train resnet18 --data @/empty", 1, "@/empty: Couldn't find any class folder in @/empty.; an ImageFolder needs one sub-folder p"),
    ("train resnet18 --data @/oneclass", 1, "@/oneclass has 1 class folder(s); a classifier needs at least 2"),
    ("train resnet18 --data @/notes.txt", 2, "--data @/notes.txt is not a directory; pass an ImageFolder directory (one sub-folder per c"),
    ("train resnet18 --data digits --epochs 0", 2, "--epochs must be at least 1, got 0"),
    ("train resnet18 --data digits --batch-size 0", 2, "--batch-size must be at least 1, got 0"),
    ("train resnet18 --data digits --lr -1", 2, "--lr must be a positive learning rate, got -1.0; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)"),
    ("train resnet18 --data digits --lr 0", 2, "--lr must be a positive learning rate, got 0.0; typical: 1e-3 (AdamW), 2e-4 (GAN Adam)"),
    ("train resnet18 --data digits --img-size 2", 2, "--img-size 2 is below resnet18's minimum input of 32 px; use --img-size 32 or more"),
    (
        "train resnet18 --data digits --device cuda",
        1,
        "--device cuda requested but CUDA is not available (torch 2.14.1+cu130 built with CUDA 13.0",
    ),
    ("train resnet18 --data digits --device tpu", 2, "unknown device 'tpu'; valid here: cpu"),
    ("train resnet18 --data digits --amp fp8", 2, "unknown --amp 'fp8'; valid: bf16, fp16 (or leave it out for fp32)"),
    (
        "train resnet18 --data digits --out @/r18",
        2,
        "--out @/r18 already holds a run (model.safetensors, ",
    ),
    (
        "train resnet18 --data digits --resume @/empty",
        2,
        "--resume @/empty holds no resumable checkpoint (@/empty/last/train_state.json is missing: ",
    ),
    (
        "train resnet18 --data digits --resume @/nosuchdir",
        2,
        "--resume @/nosuchdir is not a run directory; pass the --out of an earlier zoo train/adapt",
    ),
    ("train dcgan --data digits --epochs -3", 2, "--epochs must be at least 1, got -3"),
    (
        "train resnet18 --data digits --epochs abc",
        2,
        "Invalid value for '--epochs': Input should be a valid integer, unable to parse string as a",
    ),
    ("adapt resnet18 --head 0", 2, "--head must be at least 1 class, got 0"),
    ("adapt resnet18 --head -5", 2, "--head must be at least 1 class, got -5"),
    (
        "adapt resnet18 --head 2 --freeze-until layer9",
        2,
        "unknown stage 'layer9' for resnet18 (did you mean: layer4, layer3, layer2?); valid stages:",
    ),
    (
        "adapt resnet18 --head 2 --weights @/garbage.safetensors",
        1,
        "weights file @/garbage.safetensors is a text file ('not a safetensors file at all'); expected a .safetensors file or a torch",
    ),
    (
        "adapt resnet18 --head 2 --weights @/notes.txt",
        1,
        "weights file @/notes.txt is a text file ('hello'); expected a .safetensors file or a torch.save checkpoint of a state dict",
    ),
    (
        "adapt resnet18 --head 2 --weights @/nosuchfile.safetensors",
        2,
        "--weights '@/nosuchfile.safetensors' is neither a published tag of resnet18 (valid: none, ",
    ),
    (
        "adapt resnet18 --head 2 --weights @/empty",
        1,
        "checkpoint directory @/empty has no model.safetensors; pass a checkpoint directory written",
    ),
    (
        "adapt resnet50 --head 2 --weights @/r18",
        1,
        "weights file @/r18 was written for resnet18, not resnet50; build resnet18 or pass a resnet",
    ),
    (
        "adapt resnet18 --head 2 --weights imagenet",
        1,
        "ZOO_OFFLINE is set: cannot download https://download.pytorch.org/models/resnet18-f37072fd.",
    ),
    ("adapt resnet18 --head 2 --shots 5", 2, "--shots needs data to fine-tune on; without data, adapt only builds, freezes and saves"),
    ("adapt resnet18 --head 5 --data digits:0-4 --shots 0", 2, "--shots must be at least 1, got 0"),
    (
        "adapt resnet18 --head 5 --data digits:0-4 --shots 100000",
        2,
        "class '0' has only 142 training images, fewer than --shots 100000; lower --shots",
    ),
    ("adapt resnet18 --head 3 --data digits:0-4", 2, "--head 3 but the data digits:0-4 has 5 classes; pass --head 5"),
    (
        "adapt resnet18 --head 2 --data @/badimgs --weights none --epochs 1",
        1,
        "cannot read image @/badimgs/a/2.png: it is binary data of an unknown format (11 bytes, starting 89 50 4e 47",
    ),
    (
        "adapt resnet18 --head 2 --strategy bogus",
        2,
        "--strategy must be one of 'full', 'linear-probe', 'freeze-until', 'gradual', got 'bogus'",
    ),
    (
        "adapt resnet18 --head 2 --lr-decay 2",
        2,
        "--lr-decay must be in (0, 1] (each earlier stage's rate is lr times it), got 2.0; try 0.5",
    ),
    (
        "adapt resnet18 --head 2 --out @/r18 --weights none",
        2,
        "--out @/r18 already holds a run (model.safetensors, ",
    ),
    ("pretrain resnet18 --method bogus --data digits", 2, "--method must be one of 'autoencoder', 'greedy', got 'bogus'"),
    ("pretrain dcgan --method greedy --data digits", 2, "zoo pretrain works on backbones; dcgan is a gan. Use 'zoo train dcgan' instead"),
    (
        "pretrain resnet18 --method greedy --data nosuch",
        2,
        "--data 'nosuch' is neither an existing directory nor a built-in data set; built-in: digits",
    ),
    ("sample nosuchgan", 2, "unknown model 'nosuchgan' (did you mean: cgan, srgan, dcgan?)"),
    ("sample resnet18", 2, "zoo sample needs a GAN; resnet18 is a backbone (see 'zoo list --kind gan')"),
    ("sample dcgan", 2, "zoo sample dcgan needs trained weights: train them with 'zoo train dcgan --data digits --o"),
    ("sample dcgan --checkpoint @/r18", 1, "checkpoint @/r18 was written for resnet18, not dcgan; resnet18 is a backbone, pass a check"),
    ("sample dcgan --checkpoint @/empty", 1, "checkpoint directory @/empty has no model.safetensors; pass a checkpoint directory written"),
    ("sample dcgan --checkpoint @/nosuch", 2, "zoo sample dcgan needs trained weights: train them with 'zoo train dcgan --data digits --o"),
    (
        "sample cgan --checkpoint @/r18 --label 11",
        1,
        "checkpoint @/r18 was written for resnet18, not cgan; resnet18 is a backbone, pass a checkp",
    ),
    ("sample stargan --attr blond", 1, "zoo sample stargan needs the official weights 'celeba128' (200000-G.ckpt inside the publis"),
    (
        "sample stargan --weights @/garbage.safetensors --attr blond",
        1,
        "checkpoint @/garbage.safetensors is a text file ('not a safetensors file at all'); expected a .safetensors file or a torch",
    ),
    (
        "sample cyclegan --weights @/notes.txt --image @/img.png",
        1,
        "checkpoint @/notes.txt is a text file ('hello'); expected a .safetensors file or a torch.save checkpoint of a state dict",
    ),
    ("sample srgan --image @/nosuch.png", 1, "zoo sample srgan needs the official weights 'imagenet-x4': ZOO_OFFLINE is set: cannot down"),
    ("sample srgan --image @/notes.txt", 1, "zoo sample srgan needs the official weights 'imagenet-x4': ZOO_OFFLINE is set: cannot down"),
    ("sample dcgan --n 0", 2, "--n must be at least 1, got 0"),
    ("features nosuchmodel --data digits --out @/f.safetensors", 2, "unknown model 'nosuchmodel'; run 'zoo list' to see every model"),
    (
        "features resnet18 --data nosuch --out @/f.safetensors",
        2,
        "--data 'nosuch' is neither an existing directory nor a built-in data set; built-in: digits",
    ),
    ("features resnet18 --data digits --classifier svm", 2, "--classifier 'svm' is not known; valid: logistic"),
    ("eval @/nosuchrun --data digits", 2, "checkpoint directory @/nosuchrun does not exist; pass a directory written by 'zoo train' o"),
    ("eval @/empty --data digits", 1, "checkpoint directory @/empty has no model.safetensors; pass a checkpoint directory written"),
    ("eval @/r18 --data nosuch", 1, "checkpoint @/r18 has no class names (adapted without --data); fine-tune it on labelled dat"),
    ("eval @/r18 --data digits:0-4", 1, "checkpoint @/r18 has no class names (adapted without --data); fine-tune it on labelled dat"),
    ("predict @/r18 @/nosuch.png", 2, "image @/nosuch.png does not exist"),
    ("predict @/r18 @/notes.txt", 2, "cannot read image @/notes.txt: it is a text file ('hello'); give a PNG or JPEG image, or re-sav"),
    ("predict @/nosuchrun @/img.png", 2, "checkpoint directory @/nosuchrun does not exist; pass a directory written by 'zoo train' o"),
    ("predict @/r18 @/img.png --top-k 0", 2, "No such option: --top-k (Possible options: --topk) (see 'zoo predict --help')"),
    ("export @/r18 --format tflite", 2, "--format 'tflite' is not known; valid: onnx, torchscript"),
    ("export @/nosuchrun --format onnx", 2, "checkpoint directory @/nosuchrun does not exist; pass a directory written by 'zoo train' o"),
    ("plugins --bogus", 2, "No such option: --bogus (see 'zoo plugins --help')"),
    ("demo --freeze-until layer9", 2, "unknown stage 'layer9' for resnet18 (did you mean: layer4, layer3, layer2?); valid stages:"),
    ("demo --shots 0", 2, "--shots must be at least 1, got 0"),
    ("demo --source-epochs 0", 2, "--source-epochs must be at least 1, got 0"),
    ("demo --target-epochs -1", 2, "--target-epochs must be at least 1, got -1"),
    ("demo --gan-steps 0", 2, "--gan-steps must be at least 1, got 0"),
    ("demo --gan-max-minutes -1", 2, "--gan-max-minutes must be a positive, finite number, got -1.0; leave it out for the default"),
    ("demo --bench-budget 0", 2, "--bench-budget must be a positive, finite number, got 0.0; leave it out for the default"),
    ("demo --seed -1", 2, "--seed must be between 0 and 4294967295, got -1"),
    ("demo --threads 0", 2, "--threads must be at least 1, got 0"),
    ("train resnet18 --data digits --threads 0", 2, "--threads must be at least 1, got 0"),
    (
        "train dcgan --data digits:0-4 --img-size 1000000",
        2,
        "--img-size 1000000 is above 4096 px, the largest input zoo takes (one 3 x 4096 x 4096 float32 image is 201",
    ),
    ("adapt resnet18 --head 2 --bn eval", 2, "--bn must be one of 'frozen', 'train', got 'eval'"),
    (
        "adapt resnet18 --head 2 --augment autoaugment",
        2,
        "--augment must be one of 'none', 'basic', 'heavy', 'trivialaugment', 'randaugment', got 'a",
    ),
    (
        "adapt resnet18 --head 2 --strategy freeze-until",
        2,
        "--strategy freeze-until needs --freeze-until STAGE; resnet18's stages: conv1, layer1, laye",
    ),
    (
        "adapt dcgan --freeze-d 1 --data digits",
        2,
        "--weights must be a 'zoo train dcgan' run to fine-tune from (FreezeD adapts a trained GAN)",
    ),
    ("adapt dcgan --head 2 --data digits", 2, "--head is for backbones; dcgan is a GAN: fine-tune it with --weights SRC --freeze-d N"),
    (
        "adapt resnet18 --head 2 --freeze-d 1",
        2,
        "--freeze-d is for GANs (FreezeD); resnet18 is a backbone: use --strategy / --freeze-until",
    ),
    ("train resnet18 --data faces:bogus", 2, "--data faces has no class 'bogus'; valid: non-face, face"),
    (
        "train resnet18 --data digits --seed abc",
        2,
        "Invalid value for '--seed': Input should be a valid integer, unable to parse string as an ",
    ),
    ("bench --kind cnn", 2, "unknown kind 'cnn'; valid: backbone, gan"),
    # numbers
    ("bench resnet18 --batch-size -1", 2, "--batch-size must be at least 1, got -1"),
    ("train resnet18 --data digits --batch-size -1", 2, "--batch-size must be at least 1, got -1"),
    ("train resnet18 --data digits --img-size 0", 2, "--img-size 0 is below resnet18's minimum input of 32 px; use --img-size 32 or m"),
    ("train resnet18 --data digits --seed -1", 2, "--seed must be between 0 and 4294967295, got -1"),
    ("sample cgan --checkpoint @/cgan --label 11", 2, "--label 11 is out of range; this model has 10 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8"),
    # files: truncated, of another model, a directory where a file is wanted and the reverse
    (
        "adapt resnet18 --head 2 --weights @/trunc.safetensors",
        1,
        "weights file @/trunc.safetensors is a truncated safetensors file (",
    ),
    ("adapt resnet18 --head 2 --weights @/dc", 1, "weights file @/dc was written for dcgan, not resnet18; build dcgan or pass a resnet18"),
    ("sample stargan --checkpoint @/dc --attr blond", 1, "checkpoint @/dc was written for dcgan, not stargan; run 'zoo sample dcgan --che"),
    (
        "eval @/notes.txt --data digits",
        1,
        "weights file @/notes.txt is a text file ('hello'); expected a .safetensors file or a torch.save",
    ),
    ("predict @/r18 @/empty", 2, "image @/empty is a directory; give an image file (PNG, JPEG, ...)"),
    # a directory where a file is wanted: the command's own kind of file is suggested
    (
        "features resnet18 --data digits --out @/empty",
        2,
        "--out @/empty is a directory; give a file name such as @/empty/resnet18.safetensors",
    ),
    ("features @/r18 --data digits --out @/empty", 2, "--out @/empty is a directory; give a file name such as @/empty/r18.safetensors"),
    ("export @/r18 --format onnx --out @/empty", 2, "--out @/empty is a directory; give a file name such as @/empty/model.onnx"),
    ("export @/r18 --format torchscript --out @/empty", 2, "--out @/empty is a directory; give a file name such as @/empty/model.pt"),
    ("sample dcgan --checkpoint @/dc --out @/empty", 2, "--out @/empty is a directory; give a file name such as @/empty/grid.png"),
    ("adapt resnet18 --head 2 --weights none --out @/notes.txt", 2, "--out @/notes.txt is a file, not a directory; choose another --out"),
    ("train resnet18 --data digits --out @/img.png", 2, "--out @/img.png is a file, not a directory; choose another --out"),
    # an existing output without --overwrite: refused, the earlier file untouched
    ("sample dcgan --checkpoint @/dc --out @/img.png", 2, "--out @/img.png already exists ("),
    ("features resnet18 --data digits --out @/garbage.safetensors", 2, "--out @/garbage.safetensors already exists ("),
    ("export @/r18 --format onnx --out @/notes.txt", 2, "--out @/notes.txt already exists ("),
    ("train dcgan --data digits --out @/r18", 2, "--out @/r18 already holds a run (model.safetensors, "),
    # --resume of something that is not a run
    (
        "train resnet18 --data digits --resume @/notes.txt",
        2,
        "--resume @/notes.txt is not a run directory; pass the --out of an earlier zoo t",
    ),
    ("adapt resnet18 --head 2 --resume @/dc", 2, "--resume @/dc holds no resumable checkpoint (@/dc/last/train_state.json is missing"),
    # GANs where a backbone is needed, and the reverse
    (
        "features dcgan --data digits --out @/f.safetensors",
        2,
        "features come from backbones; dcgan is a gan (see 'zoo list --kind backbone')",
    ),
    ("export @/dc --format onnx", 2, "zoo export works on classifiers; @/dc holds the GAN dcgan (use 'zoo sample dcgan --checkp"),
    ("eval @/dc --data digits", 2, "zoo eval works on classifiers; @/dc holds the GAN dcgan (use 'zoo sample dcgan --checkpoi"),
    ("predict @/dc @/img.png", 2, "zoo predict works on classifiers; @/dc holds the GAN dcgan (use 'zoo sample dcgan --check"),
    ("adapt srgan --head 2", 2, "--head is for backbones; srgan is a GAN: fine-tune it with --weights SRC --freeze-d N"),
    ("sample dcgan --checkpoint @/dc --attr blond", 2, "dcgan is unconditional; sample it without --label/--attr/--image"),
    ("sample dcgan --checkpoint @/dc --label 3", 2, "dcgan is unconditional; sample it without --label/--attr/--image"),
    # zoo sample: --attr, --from and --image
    (
        "sample stargan --checkpoint @/stargan --attr bogus",
        2,
        "unknown --attr 'bogus'; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
    ),
    (
        "sample stargan --checkpoint @/stargan --from bogus --attr blond",
        2,
        "unknown --from 'bogus'; valid: Black_Hair, Blond_Hair, Brown_Hair, Male, Young",
    ),
    (
        "sample stargan --checkpoint @/stargan --attr blond --image @/notes.txt",
        2,
        "cannot read image @/notes.txt: it is a text file ('hello'); give a PNG or JPEG image, or re-save or remove that",
    ),
    (
        "sample srgan --checkpoint @/srgan --image @/nosuch.png",
        2,
        "image @/nosuch.png does not exist; give an image file (PNG, JPEG, ...)",
    ),
    ("sample srgan --checkpoint @/srgan --image @/empty", 2, "image @/empty is a directory; give an image file (PNG, JPEG, ...)"),
    # a folder with one truncated image: a clear error naming it, mid-epoch, never a traceback
    (
        "train resnet18 --data @/truncimgs --epochs 1 --img-size 32 --batch-size 2 --out @/newrun",
        1,
        "cannot read image @/truncimgs/b/1.png: it is a PNG image (20 x 20) that PIL cannot decode (image file is truncated); giv",
    ),
    # usage errors of the remaining commands
    ("info resnet18 --device cuda", 2, "No such option: --device (see 'zoo info --help')"),
    ("demo --epochs 0", 2, "No such option: --epochs (Possible options: --source-epochs, --target-epochs) (see 'zoo demo --help')"),
    *[
        # issue 20
        # -- an option that does not apply is refused, saying why (its value checked even where unused)
        (f"adapt dcgan --freeze-d 1 --weights @/dc --data digits {opt}", 2, f"{opt} does not apply: it sets how a backbone's stages are")
        for opt in ("--strategy magic", "--lr-decay 7.0", "--freeze-until layer9", "--augment what", "--bn train")
    ],
    *[
        (f"adapt resnet18 --head 2 --weights none {opt}", 2, f"{opt.split()[0]} needs data to fine-tune on; without data, adapt only b")
        for opt in ("--epochs 3", "--batch-size 8", "--lr 0.1", "--amp bf16", "--augment heavy", "--lr-decay 0.5", "--channels-last")
    ],
    ("adapt resnet18 --head 2 --weights none --epochs 0", 2, "--epochs must be at least 1, got 0"),  # the value first
    ("adapt resnet18 --head 2 --weights none --lr-decay 7", 2, "--lr-decay must be in (0, 1] (each earlier stage's rate is lr t"),
    (
        "adapt resnet18 --head 2 --weights none --data digits:0-1 --bn train",
        2,
        "--bn sets the BatchNorm of frozen stages; --strategy full freezes none: leave --bn out or freeze stages",
    ),
    (
        "adapt resnet18 --head 2 --weights none --data digits:0-1 --strategy linear-probe --lr-decay 0.5",
        2,
        "--lr-decay gives the stages below the head their own learning rates; --strategy linear-probe trains only",
    ),
    (
        "sample stargan --checkpoint @/stardom --attr 1 --from Male",
        2,
        "--from gives the input's own attributes; this stargan translates between domains (0, 1, 2) and needs none",
    ),
    ("sample stargan --checkpoint @/stardom --attr 1 --from 0,1", 2, "--from gives the input's own attributes; this stargan translat"),
    ("sample stargan --checkpoint @/stargan --attr blond --from 0,1", 2, "unknown --from '0'; valid: Black_Hair, Blond_Hair, Brown_Hai"),
    ("sample stargan --checkpoint @/stargan --attr blond --n 5", 2, "--n is for GANs that draw from noise; stargan translates its --i"),
    ("sample stargan --checkpoint @/stargan --attr blond --seed 3", 2, "--seed is for GANs that draw from noise; stargan translates it"),
    ("sample stargan --checkpoint @/stargan --label 1", 2, "stargan is attribute-conditional: give --attr (valid: Black_Hair, B"),
    ("sample srgan --checkpoint @/srgan --from Male", 2, "--from gives the input's own attributes (stargan); srgan has none: l"),
    ("sample srgan --checkpoint @/srgan --attr blond", 2, "srgan upscales the input image 4x and takes no --attr or --label"),
    ("sample dcgan --checkpoint @/dc --side-by-side", 2, "--side-by-side/--translation-only are for GANs that translate images"),
    ("sample dcgan --checkpoint @/dc --translation-only", 2, "--side-by-side/--translation-only are for GANs that translate ima"),
    ("sample cgan --checkpoint @/cgan --attr blond", 2, "cgan is class-conditional: give --label (valid: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);"),
    *[
        (cmd + " --overwrite", 2, "--overwrite replaces an earlier --out; without --out the output is a new numbered name, so th")
        for cmd in (
            "train resnet18 --data digits",
            "adapt resnet18 --head 2 --weights none",
            "pretrain resnet18 --method greedy --data digits",
            "sample dcgan --checkpoint @/dc",
            "features @/r18 --data digits",
            "eval @/r18 --data digits",
            "export @/r18",
            "demo",
        )
    ],
    # -- internal messages where a flag should be named: one seed rule, every range, flags that exist
    *[
        (cmd + f" --seed {seed}", 2, f"--seed must be between 0 and 4294967295, got {seed}")
        for cmd in (
            "features @/r18 --data digits",
            "eval @/r18 --data digits",
            "sample dcgan --checkpoint @/dc",
            "pretrain resnet18 --method greedy --data digits",
            "adapt resnet18 --head 2 --weights none",
            "train dcgan --data digits",
        )
        for seed in (-1, 10**23)
    ],
    *[
        (cmd + " --img-size 100000", 2, "--img-size 100000 is above 4096 px, the largest input zoo takes (one 3 x 4096 x 4096 fl")
        for cmd in (
            "export @/r18",
            "features resnet18 --data digits",
            "bench resnet18",
            "train resnet18 --data digits",
            "adapt resnet18 --head 2 --weights none",
            "pretrain resnet18 --method greedy --data digits",
        )
    ],
    ("bench resnet18 --batch-size 100000000000000000000", 2, "--batch-size must be at most 65,536 images, got 100000000000000000000"),
    ("train resnet18 --data digits --threads 5000", 2, "--threads must be at most 1024, got 5000; leave it out to use every availa"),
    ("adapt resnet18 --head 1000000000", 2, "--head must be at most 100,000 classes (a head of that many is already 819 MB for"),
    ("train resnet18 --data digits --lr inf", 2, "--lr must be a positive learning rate, got inf; typical: 1e-3 (AdamW), 2e-4 (GAN"),
    ("train resnet18 --data digits --lr nan", 2, "--lr must be a positive learning rate, got nan; typical: 1e-3 (AdamW), 2e-4 (GAN"),
    (
        "train resnet18 --data digits --max-minutes inf",
        2,
        "--max-minutes must be a positive, finite number of minutes, got inf; leave it out for no limit",
    ),
    (
        "train resnet18 --data digits --resume @/badstate",
        1,
        "training state @/badstate/last/train_state.json is damaged: its state is a JSON list, expected an object; resum",
    ),
    (
        "train resnet18 --data digits --resume @/listopts",
        1,
        "training state @/listopts/last/train_state.json is damaged: options is a JSON list, expected an object; resume",
    ),
    # -- resources: a grid past what one PNG should hold is refused before anything is drawn
    (
        "sample dcgan --checkpoint @/dc --n 100000",
        2,
        "--n 100000 makes a grid of 20,924 x 20,858 pixels, over 89,478,485 (PIL's decompression-bomb limit, which",
    ),
    # -- valid input that crashed: batch norm on batches of one image is one line naming the flag
    (
        "adapt resnet18 --head 2 --weights none --data digits:0-1 --shots 5 --batch-size 1 --epochs 1",
        2,
        "resnet18's batch norm cannot train on a batch of one image at 32 px (--batch-size 1 gives batches of one image)",
    ),
    # -- a damaged model.json is one line naming the file, in every command that reads one
    *[
        (cmd.format(run=run), 1, f"checkpoint sidecar @/{run}/model.json is damaged: {what}")
        for run, what in (
            ("badstd", "preprocessing.std[0] is 0; a standard deviation must be above 0"),
            ("badmean", "preprocessing.mean is 'x', expected a list of 1 or 3 numbers (one per channel)"),
            ("badsize", "preprocessing.img_size is -3, expected a whole number of pixels from 1 to 4096"),
            ("badnames", "class_names names a class twice"),
        )
        for cmd in (
            "predict @/{run} @/img.png",
            "export @/{run} --format torchscript --out @/x.pt",
            "eval @/{run} --data digits:0-1",
            "features @/{run} --data digits:0-1 --out @/x.safetensors",
            "adapt resnet18 --head 2 --weights @/{run}",
        )
    ],
    ("sample dcgan --checkpoint @/baddc --out @/x.png", 1, "checkpoint sidecar @/baddc/model.json is damaged: config is a JSON list, exp"),
    (
        "train resnet18 --resume @/badlast",
        1,
        "checkpoint sidecar @/badlast/last/model.json is damaged: preprocessing.std[1] is -1; a standard deviation must be abo",
    ),
]

# issue 20: an output is never one of the command's own inputs, nor a file of another run, even with --overwrite
# (argv, what the error says after "--out TARGET")
OUT_OVER_INPUT = [
    ("train resnet18 --data @/truncimgs --out @/truncimgs --overwrite", "is an input of this command; an output never replaces its"),
    ("train resnet18 --data @/truncimgs --out @/truncimgs/a/run", "is inside @/truncimgs, which this command reads; write outside"),
    ("train dcgan --data @/oneclass --out @/oneclass/cats", "is inside @/oneclass, which this command reads; write outside its"),
    ("adapt resnet18 --head 2 --weights @/r18 --out @/r18 --overwrite", "is an input of this command; an output never replaces its o"),
    (
        "adapt resnet18 --head 2 --weights @/r18/model.safetensors --out @/r18 --overwrite",
        "holds @/r18/model.safetensors, which this command reads, and would replace it",
    ),
    ("adapt dcgan --freeze-d 0 --weights @/dc --data digits --out @/dc --overwrite", "is an input of this command; an output never re"),
    ("adapt resnet18 --head 2 --data @/truncimgs --out @/truncimgs/b", "is inside @/truncimgs, which this command reads; write outsid"),
    ("pretrain resnet18 --method greedy --data @/oneclass --out @/oneclass/run", "is inside @/oneclass, which this command reads;"),
    ("pretrain resnet18 --method greedy --data @/oneclass --out @/oneclass --overwrite", "is an input of this command; an output"),
    ("sample dcgan --checkpoint @/dc --out @/dc/model.safetensors --overwrite", "is an input of this command; an output never rep"),
    ("sample dcgan --checkpoint @/dc --out @/dc/model.json --overwrite", "is an input of this command; an output never replaces it"),
    ("sample srgan --checkpoint @/srgan --image @/img.png --out @/img.png --overwrite", "is an input of this command; an outp"),
    ("sample cyclegan --weights @/lfs.pth --image @/img.png --out @/lfs.pth --overwrite", "is an input of this command; an out"),
    ("features @/r18 --data digits --out @/r18/model.safetensors --overwrite", "is an input of this command; an output never rep"),
    ("features @/r18 --data digits --out @/r18/model.json --overwrite", "is an input of this command; an output never replaces"),
    ("features resnet18 --weights @/trunc.safetensors --data digits --out @/trunc.safetensors --overwrite", "is an input of th"),
    ("features @/r18 --data @/truncimgs --out @/truncimgs/a/f.safetensors", "is inside @/truncimgs, which this command reads;"),
    ("eval @/r18 --data @/truncimgs --out @/truncimgs --overwrite", "is an input of this command; an output never replaces its"),
    ("eval @/r18 --data @/truncimgs --out @/truncimgs/a", "is inside @/truncimgs, which this command reads; write outside it"),
    ("export @/r18 --out @/r18/model.safetensors --overwrite", "is an input of this command; an output never replaces its own"),
    ("export @/r18 --out @/r18/model.json --overwrite", "is an input of this command; an output never replaces its own in"),
    # another run's files
    ("export @/r18 --out @/dc/model.safetensors --overwrite", "belongs to the run in @/dc; no command writes over a run's files"),
    ("features @/r18 --data digits --out @/cgan/model.json --overwrite", "belongs to the run in @/cgan; no command writes over a ru"),
    ("sample dcgan --checkpoint @/dc --out @/stargan/model.safetensors --overwrite", "belongs to the run in @/stargan; no comm"),
    ("sample dcgan --checkpoint @/dc --out @/badlast/last/grid.png", "belongs to the run in @/badlast; no command writes over a run"),
    ("train resnet18 --data digits --out @/badlast/last --overwrite", "belongs to the run in @/badlast; no command writes over a r"),
    ("eval @/r18 --data digits --out @/badlast/last/report", "belongs to the run in @/badlast; no command writes over a run's"),
]
CASES += [(argv, 2, "--out " + argv.split("--out ")[1].split()[0] + " " + text) for argv, text in OUT_OVER_INPUT]

# issue 16: a file that is not a checkpoint says what it is (by content, whatever its name), whichever command
# reads it: {file in the scratch directory: what the error calls it}
NOT_WEIGHTS = {
    "empty.pth": "an empty file (0 bytes)",
    "notes.txt": "a text file ('hello')",
    "config.json": "a JSON text file",
    "params.yaml": "a YAML-like text file",
    "page.html": "an HTML page ('404 Not Found')",
    "lfs.pth": "a Git LFS pointer for a 46,830,571-byte file",
    "photo.pth": "a PNG image (32 x 32)",
    "snap.pth": "a JPEG image (16 x 12)",
    "anim.gif": "a GIF image (8 x 8)",
    "weights.tar.gz": "a gzip-compressed tar archive",
    "bundle.zip": "a zip archive that is not a torch checkpoint (it holds readme.txt)",
    "cut.pth": "a torch.save checkpoint cut short (",
    "trunc.safetensors": "a truncated safetensors file (",
    "args.pth": "a torch.save checkpoint that pickles code (argparse.Namespace), which zoo never runs",
    "old.pth": "a legacy torch.save checkpoint (PyTorch < 1.6 format) that pickles code (argparse.Namespace), which zoo never runs",
    "model.pt": "a TorchScript model (torch.jit.save, such as zoo export's model.pt), not a checkpoint of weights",
}
# every command that reads a weights file, and how its message names the file
WEIGHT_READERS = {
    "adapt resnet18 --head 2 --weights @/{} --data digits:0-1 --epochs 1": "weights file",  # before any training
    "features resnet18 --weights @/{} --data digits": "weights file",
    "sample stargan --weights @/{} --attr blond": "checkpoint",
    "sample cyclegan --weights @/{} --image @/img.png": "checkpoint",
}
EXPECTED = "expected a .safetensors file or a torch.save checkpoint of a state dict"
NOT_WEIGHTS_CASES = [(cmd.format(f), f"{what} @/{f} is {kind}") for f, kind in NOT_WEIGHTS.items() for cmd, what in WEIGHT_READERS.items()]

# (plugin module, its source, distribution, extra environment, arguments, exit code, the error line's text)
STRICT = {"ZOO_STRICT_PLUGINS": "1"}
LOAD_FAILED = "plugin 'badzoo' (badzoo-plugin 0.1) failed to load: ModuleNotFoundError: No module named 'torchx'; fix or uninstall it"
BUILD_FAILED = "plugin 'buildzoo' (buildzoo 0.1) failed to build 'badnet': RuntimeError: weights layout changed; report it to the p"
LOADER_FAILED = "plugin 'loadzoo' (loadzoo 0.1) failed to load data set 'broken': OSError: archive broken.tar is truncated; repor"
DUPLICATE = "data set 'digits' is contributed by both zoo.plugins.datasets and dupzoo; rename one or limit plugins with ZOO_PLUGI"
BADNET = BUILD_RAISE.format(model="badnet", plugin="buildzoo")
PLUGIN_CASES = [
    ("badzoo", IMPORT_ERROR, STRICT, "list", 1, LOAD_FAILED),
    ("badzoo", IMPORT_ERROR, STRICT, "info resnet18", 1, LOAD_FAILED),
    ("badzoo", IMPORT_ERROR, STRICT, "plugins", 1, LOAD_FAILED),
    ("badzoo", IMPORT_ERROR, STRICT, "train resnet18 --data digits --epochs 1", 1, LOAD_FAILED),
    ("specszoo", SPECS_RAISE, STRICT, "list", 1, "plugin 'specszoo' (specszoo 0.1) failed in zoo_model_specs: RuntimeError: catalogu"),
    ("datazoo", DATASETS_RAISE, STRICT, "plugins", 1, "plugin 'datazoo' (datazoo 0.1) failed in zoo_datasets: ValueError: DATAZOO_HOME is"),
    ("buildzoo", BADNET, {}, "info badnet --measure", 1, BUILD_FAILED),
    ("buildzoo", BADNET, {}, "adapt badnet --head 2 --weights none", 1, BUILD_FAILED),
    ("buildzoo", BADNET, {}, "train badnet --data digits --epochs 1", 1, BUILD_FAILED),
    ("loadzoo", LOADER_RAISE, {}, "train resnet18 --data broken --epochs 1", 1, LOADER_FAILED),
    ("loadzoo", LOADER_RAISE, {}, "features resnet18 --data broken", 1, LOADER_FAILED),
    ("dupzoo", DUPLICATE_DATASET, {}, "plugins", 1, DUPLICATE),
    ("dupzoo", DUPLICATE_DATASET, {}, "train resnet18 --data digits --epochs 1", 1, DUPLICATE),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """The prepared inputs (see the module docstring)."""
    root = tmp_path_factory.mktemp("bad_inputs")
    (root / "garbage.safetensors").write_bytes(b"not a safetensors file at all")
    (root / "notes.txt").write_text("hello")
    (root / "empty").mkdir()
    rng = np.random.default_rng(0)
    one = root / "oneclass" / "cats"
    one.mkdir(parents=True)
    for i in range(3):
        Image.fromarray((rng.random((16, 16, 3)) * 255).astype("uint8")).save(one / f"{i}.png")
    for c in ("a", "b"):
        (root / "badimgs" / c).mkdir(parents=True)
        for i in range(3):
            (root / "badimgs" / c / f"{i}.png").write_bytes(b"\x89PNG broken")
    for c in ("a", "b"):
        (root / "truncimgs" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((20, 20, 3), 40 * i, "uint8")).save(root / "truncimgs" / c / f"{i}.png")
    png = (root / "truncimgs" / "b" / "1.png").read_bytes()
    (root / "truncimgs" / "b" / "1.png").write_bytes(png[: len(png) // 2])  # the header reads, the pixels do not
    Image.fromarray((rng.random((32, 32, 3)) * 255).astype("uint8")).save(root / "img.png")
    assert run("adapt", "resnet18", "--head", "2", "--weights", "none", "--out", root / "r18").exit_code == 0
    weights = (root / "r18" / "model.safetensors").read_bytes()
    (root / "trunc.safetensors").write_bytes(weights[: len(weights) // 2])

    import torch

    from zoo.io.checkpoint import save_checkpoint
    from zoo.registry import build

    torch.manual_seed(0)
    tiny = {  # random GANs of a few kB: what the commands check comes before any sampling
        "dc": ("dcgan", {"image_size": 16, "channels": 1, "ngf": 8, "ndf": 8}),
        "cgan": ("cgan", {"image_size": 8, "channels": 1}),
        "stargan": ("stargan", {"image_size": 16, "g_conv_dim": 8, "d_conv_dim": 8, "g_repeat_num": 1}),
        "srgan": ("srgan", {"image_size": 16, "ngf": 8, "n_blocks": 1}),
    }
    for folder, (name, options) in tiny.items():
        save_checkpoint(root / folder, build(name, **options), {})
    save_checkpoint(root / "stardom", build("stargan", **tiny["stargan"][1], class_names=["0", "1", "2"]), {})  # domain mode
    _not_weights(root)
    _damaged(root)
    return root


def _damaged(root: Path) -> None:
    """Runs whose model.json or train_state.json is damaged, the weights intact (issue 20)."""
    import json
    import shutil

    import torch

    from zoo.io.checkpoint import save_checkpoint
    from zoo.io.train_state import write_training_checkpoint
    from zoo.registry import build

    edits = {
        "badstd": ("preprocessing", "std", [0, 0, 0]),
        "badmean": ("preprocessing", "mean", "x"),
        "badsize": ("preprocessing", "img_size", -3),
        "badnames": (None, "class_names", ["cat", "cat"]),
        "baddc": (None, "config", [16]),
    }
    for folder, (section, key, value) in edits.items():
        shutil.copytree(root / ("dc" if folder == "baddc" else "r18"), root / folder)
        meta = json.loads((root / folder / "model.json").read_text())
        (meta[section] if section else meta)[key] = value
        (root / folder / "model.json").write_text(json.dumps(meta))
    adapter = build("resnet18", num_classes=2)
    options = {"command": "train", "model": "resnet18", "data": "digits:0-1", "epochs": 2, "img_size": 32, "batch_size": 64}
    options.update(lr=None, amp=None, seed=0, build_options={})
    state = {"epoch": 1, "epochs": 2, "global_step": 1, "history": [], "optimizers": {}, "schedulers": {}, "rng": {}, "options": options}
    pre = {"img_size": 32, "mean": [0.5, 0.5, 0.5], "std": [0.5, -1, 0.5]}
    save_checkpoint(root / "badlast", adapter, {})
    write_training_checkpoint(root / "badlast" / "last", adapter, {"preprocessing": pre}, {**state, "t": torch.zeros(1)})
    for folder, damage in (("badstate", lambda doc: doc.update(state=[1, 2])), ("listopts", lambda doc: doc["state"].update(options=[1]))):
        write_training_checkpoint(root / folder / "last", adapter, {}, state)
        doc = json.loads((root / folder / "last" / "train_state.json").read_text())
        damage(doc)
        (root / folder / "last" / "train_state.json").write_text(json.dumps(doc))


def _not_weights(root: Path) -> None:
    """The files of :data:`NOT_WEIGHTS` that the fixture does not have yet."""
    import argparse
    import io
    import tarfile
    import warnings
    import zipfile

    import torch

    (root / "empty.pth").write_bytes(b"")
    (root / "config.json").write_text('{"lr": 0.1, "epochs": 3}')
    (root / "params.yaml").write_text("# training options\nlr: 0.1\nepochs: 3\n")
    (root / "page.html").write_text("<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body>gone</body></html>\n")
    (root / "lfs.pth").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 46830571\n")
    (root / "photo.pth").write_bytes((root / "img.png").read_bytes())  # a photograph renamed .pth
    jpeg = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, 30)).save(jpeg, format="JPEG")
    (root / "snap.pth").write_bytes(jpeg.getvalue())
    Image.new("P", (8, 8)).save(root / "anim.gif")
    with tarfile.open(root / "weights.tar.gz", "w:gz") as tar:
        tar.add(root / "notes.txt", arcname="notes.txt")
    with zipfile.ZipFile(root / "bundle.zip", "w") as zf:
        zf.writestr("readme.txt", "the weights are elsewhere")
    torch.save({"conv.weight": torch.ones(64, 64)}, root / "whole.pth")
    whole = (root / "whole.pth").read_bytes()
    (root / "cut.pth").write_bytes(whole[: len(whole) // 2])  # torch.save's zip format cut short
    (root / "whole.pth").unlink()
    state = {"conv.weight": torch.ones(2, 2)}
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=0.1)}, root / "args.pth")
    torch.save({"state_dict": state, "args": argparse.Namespace(lr=0.1)}, root / "old.pth", _use_new_zipfile_serialization=False)
    with warnings.catch_warnings():  # torch.jit is deprecated; zoo export still writes TorchScript
        warnings.simplefilter("ignore")
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(root / "model.pt"))


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under ``root``: ``{relative path: (size, mtime_ns)}`` for a
    file, ``(-1, 0)`` for a directory (whose mtime moves when a temporary file comes and goes)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out[str((Path(dirpath) / d).relative_to(root)) + "/"] = (-1, 0)
        for f in files:
            p = Path(dirpath) / f
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def check(res, code: int, text: str, root: Path, before: dict[str, tuple[int, int]]) -> None:
    """The case's promise: exit ``code``, one ``Error:`` line starting with ``text`` (``@`` =
    ``root``), no traceback anywhere, and the tree under ``root`` as ``before``."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.exit_code == code, res.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert "Traceback" not in res.output
    assert lines[0][len("Error: ") :].replace(str(root), "@").startswith(text), lines[0]
    assert tree(root) == before  # nothing created, nothing changed, nothing removed


def _args(case) -> str:
    return (case.values if hasattr(case, "values") else case)[0]


def test_the_battery_is_large_and_covers_every_command():
    assert len(CASES) + len(PLUGIN_CASES) >= 60
    commands = {_args(c).split()[0] for c in CASES}
    assert commands >= {
        "list",
        "info",
        "bench",
        "train",
        "adapt",
        "pretrain",
        "sample",
        "features",
        "eval",
        "predict",
        "export",
        "plugins",
        "demo",
    }


@pytest.mark.parametrize(("args", "code", "text"), CASES, ids=[_args(c) for c in CASES])
def test_bad_input_is_one_line_and_leaves_nothing(scratch, monkeypatch, args, code, text):
    monkeypatch.chdir(scratch)
    before = tree(scratch)
    res = run(*[a.replace("@", str(scratch)) for a in args.split()])
    check(res, code, text, scratch, before)
    assert_flags_exist(args.split()[0], res.stderr)


def command_options(command: str) -> set[str]:
    """Every option string of ``zoo COMMAND`` (``--batch-size``, ``--side-by-side``...)."""
    import typer.main

    from zoo.cli.app import app

    cmd = typer.main.get_command(app).commands[command]
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}


def assert_flags_exist(command: str, stderr: str) -> None:
    """Issue 20: every flag an error line names is one that ``zoo COMMAND`` has (a quoted
    command line, such as 'zoo train dcgan --data DIR', may name another command's; click's
    own "No such option" names the one typed)."""
    line = stderr.strip()
    if line.startswith(("Error: No such option", "Error: Invalid value")):
        return
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", re.sub(r"'[^']*'", "", line)))
    assert named <= command_options(command), f"{sorted(named - command_options(command))} named in: {line}"


@pytest.mark.parametrize(("args", "text"), NOT_WEIGHTS_CASES, ids=[c[0] for c in NOT_WEIGHTS_CASES])
def test_a_file_that_is_not_a_checkpoint_says_what_it_is(scratch, monkeypatch, args, text):
    monkeypatch.chdir(scratch)
    before = tree(scratch)
    res = run(*[a.replace("@", str(scratch)) for a in args.split()])
    check(res, 1, text, scratch, before)
    assert EXPECTED in res.stderr


def test_every_file_kind_is_read_by_every_weights_command():
    assert len(NOT_WEIGHTS_CASES) == len(NOT_WEIGHTS) * len(WEIGHT_READERS) >= 60
    assert {c.split()[0] for c in WEIGHT_READERS} == {"adapt", "features", "sample"}


@pytest.mark.parametrize(("module", "source", "env", "args", "code", "text"), PLUGIN_CASES, ids=[f"{c[0]}: {c[3]}" for c in PLUGIN_CASES])
def test_broken_plugin_is_one_line_and_leaves_nothing(make_plugin, tmp_path, monkeypatch, module, source, env, args, code, text):  # noqa: F811
    make_plugin(module, source, dist="badzoo-plugin" if module == "badzoo" else module)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = tree(work)  # where default outputs would land (the plugin's own site/ gets a __pycache__)
    from typer.testing import CliRunner

    from zoo.cli.app import app

    res = CliRunner().invoke(app, args.split(), env=env or None)
    check(res, code, text, work, before)


DEMO_CASES = [c for c in CASES if _args(c).startswith("demo ")]


@pytest.mark.parametrize(("args", "code", "text"), DEMO_CASES, ids=[_args(c) for c in DEMO_CASES])
def test_demo_checks_every_option_before_its_first_step(scratch, monkeypatch, args, code, text):
    """A bad demo option is the only line printed, on stdout and stderr alike: no step header, no listing."""
    monkeypatch.chdir(scratch)
    res = run(*args.split())
    assert res.exit_code == code
    assert res.stdout == ""
    assert [ln for ln in res.stderr.splitlines() if ln.strip()] == [res.stderr.strip()]


# ---------------------------------------------------------------------------------
# issue 20: inputs that look valid, valid input that crashed, resources
# ---------------------------------------------------------------------------------
OUT_COMMANDS = {"train", "adapt", "pretrain", "sample", "features", "eval", "export"}


def test_every_command_that_writes_is_refused_an_output_over_its_input():
    assert {argv.split()[0] for argv, _ in OUT_OVER_INPUT} == OUT_COMMANDS
    assert {c.split()[0] for c, _, t in CASES if "--overwrite replaces an earlier --out" in t} == OUT_COMMANDS | {"demo"}


def _pngs(root: Path, classes: dict[str, int], size: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for c, n in classes.items():
        (root / c).mkdir(parents=True)
        for i in range(n):
            Image.fromarray((rng.random((size, size, 3)) * 255).astype("uint8")).save(root / c / f"{i}.png")
    return root


def test_a_symlink_loop_counts_each_image_once(tmp_path, capsys):
    from zoo.data import resolve_data

    data = _pngs(tmp_path / "data", {"a": 3, "b": 3})
    (data / "a" / "up").symlink_to("..")  # a loop: a/up/a/up/...
    (data / "b" / "again").symlink_to(data / "b")  # a second way into b
    (data / "b" / "copy.png").symlink_to(data / "b" / "0.png")  # a link to an image already listed
    source = resolve_data(str(data), seed=0)
    paths = [p for p, _ in source.train.dataset.samples]
    assert len(paths) == len({os.path.realpath(p) for p in paths}) == 6  # the 6 real images, once each
    assert len(source.train) + len(source.val) == 6
    err = capsys.readouterr().err
    assert err.count("Warning: ") == 1 and "each image is counted once" in err and "reached twice" in err
    # one file in two classes is refused, naming it
    (data / "b" / "cat.png").symlink_to(data / "a" / "0.png")
    with pytest.raises(Exception, match=r"are the same file .*an image belongs to one class"):
        resolve_data(str(data), seed=0)


def test_an_image_in_both_train_and_val_is_refused(tmp_path):
    from zoo.data import resolve_data
    from zoo.errors import ZooError

    data = tmp_path / "data"
    _pngs(data / "train", {"a": 2, "b": 2})
    _pngs(data / "val", {"a": 1, "b": 1})
    (data / "val" / "a" / "leak.png").symlink_to(data / "train" / "a" / "0.png")
    with pytest.raises(ZooError, match=r"1 image\(s\) are in both train/ and val/"):
        resolve_data(str(data))


def test_a_metric_over_no_held_out_image_is_absent_not_zero(tmp_path, monkeypatch):
    """Every class with one image: nothing is held out, so val_accuracy is None with a note (never 0.0)."""
    import json

    from zoo import tasks
    from zoo.models.adapters import BackboneAdapter

    assert BackboneAdapter.summarize({}) == {"val_loss": None, "val_accuracy": None}
    data = _pngs(tmp_path / "data", {"a": 1, "b": 1, "c": 1})
    summary = tasks.train("resnet18", str(data), epochs=1, out=tmp_path / "run", img_size=32, batch_size=4, progress=False)
    assert summary["val_images"] == 0 and summary["val_accuracy"] is None and summary["val_loss"] is None
    assert any("held-out split is empty" in n for n in summary["notes"])
    logged = json.loads((tmp_path / "run" / "metrics.jsonl").read_text())
    assert logged["val_accuracy"] is None and "nonfinite" not in logged
    assert json.loads((tmp_path / "run" / "model.json").read_text())["metrics"]["val_accuracy"] is None
    assert not (tmp_path / "run" / "best").exists()  # no best of nothing


def test_16_bit_grey_pngs_train_with_values_in_range(tmp_path):
    """16-bit greyscale PNGs (PIL mode I;16) are scaled to 8 bits (>> 8), not clipped to 0 or 255."""
    import torch

    from zoo import tasks
    from zoo.data import resolve_data
    from zoo.io.images import read_image

    data = tmp_path / "data"
    ramp = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 257).astype(np.uint16)  # 0 .. 65535
    for c, shift in (("a", 0), ("b", 4000)):
        (data / c).mkdir(parents=True)
        for i in range(3):
            img = Image.fromarray(np.clip(ramp.astype(np.int64) - shift * i, 0, 65535).astype(np.uint16))
            assert img.mode in ("I;16", "I")
            img.save(data / c / f"{i}.png")
    assert Image.open(data / "a" / "0.png").mode in ("I;16", "I")  # what PIL hands to a reader
    pixels = np.asarray(read_image(data / "a" / "0.png"))
    assert np.array_equal(pixels, (ramp >> 8).astype(np.uint8))  # 0 .. 255, every level
    image, _ = resolve_data(str(data)).train[0]
    x = torch.as_tensor(np.array(image))
    assert x.dtype == torch.uint8 and 0 < float(x.float().mean()) < 255 and len(x.unique()) > 100
    summary = tasks.train("resnet18", str(data), epochs=1, img_size=32, batch_size=4, progress=False)
    assert summary["train_images"] == 4 and summary["val_images"] == 2


def test_a_last_batch_of_one_is_dropped_and_said(tmp_path, monkeypatch):
    """The issue's case: 10 images in batches of 3 leave a last batch of 1, which batch norm cannot train on."""
    from zoo.data import drops_last, iterations_per_epoch, make_loaders, resolve_data

    assert (drops_last(10, 3), drops_last(11, 3), drops_last(3, 3), drops_last(1, 1), drops_last(11, 3, True)) == (
        True,
        False,
        False,
        False,
        True,
    )
    assert [iterations_per_epoch(n, 3) for n in (10, 11, 3, 1)] == [3, 4, 1, 1]
    source = resolve_data("digits:0-1")
    train, _ = make_loaders(source, train_transform=lambda x: x, val_transform=lambda x: x, batch_size=3, shots=5)
    assert len(train) == iterations_per_epoch(10, 3) == 3 and train.drop_last
    res = run("adapt", "resnet18", "--head", "2", "--weights", "none", "--data", "digits:0-1", "--shots", "5", "--batch-size", "3",
              "--epochs", "1", "--out", tmp_path / "run", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    import json

    summary = json.loads(res.stdout)
    assert summary["notes"] == ["the last batch of each epoch (1 image) is dropped: batch norm cannot train on one image"]
    assert summary["steps"] == 3


def test_torchrun_shards_drop_a_last_batch_of_one_too(monkeypatch):
    """Each process's shard: 2 processes, 10 images, batches of 3 per process: 5 per shard, batches 3 + 2; 14: 7 = 3 + 3 + 1, dropped."""
    import zoo.data.loaders as loaders
    from zoo.utils.dist import DistContext

    monkeypatch.setattr(loaders, "context", lambda: DistContext(rank=1, world_size=2, launched=True))
    for images, batches in ((10, 2), (14, 2)):
        train, _ = loaders.shard_loaders(list(range(images)), [], batch_size=6, seed=0)
        assert len(train) == batches and len(list(train)) == batches and all(len(b) > 1 for b in train)


def test_zoo_cache_pointing_at_a_file_is_one_line_naming_it(scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    monkeypatch.setenv("ZOO_CACHE", str(scratch / "notes.txt"))
    before = tree(scratch)
    for argv in (["adapt", "resnet18", "--head", "2", "--weights", "imagenet"], ["sample", "stargan", "--attr", "blond"]):
        res = run(*argv)
        assert_user_error(res, f"ZOO_CACHE={scratch}/notes.txt: {scratch}/notes.txt is a file, not a directory; point ZOO_CACHE at a d")
        assert res.exit_code == 2 and "downloads/" not in res.stderr and tree(scratch) == before


def test_out_of_memory_advice_names_only_the_commands_own_flags():
    from zoo.cli.app import oom_advice

    assert oom_advice(command_options("export")) == "try a smaller --img-size"  # export has no --batch-size
    assert oom_advice(command_options("train")) == "try a smaller --batch-size or --img-size"
    assert oom_advice(command_options("sample")) == "try a smaller --n"
    assert oom_advice(command_options("predict")) == "try fewer or smaller inputs, or a machine with more memory"


def test_sample_draws_large_grids_in_batches_like_one_grid(scratch, tmp_path):
    """A grid built batch by batch (GridCanvas) is the grid of save_grid; past one batch, later
    batches draw from derived seeds; memory holds one batch of images, not n."""
    import torch

    from zoo import tasks
    from zoo.io.grids import GridCanvas, save_grid
    from zoo.tasks.sampling import SAMPLE_BATCH, batch_seed

    torch.manual_seed(0)
    for n, channels, size in ((1, 1, 8), (5, 3, 70), (7, 1, 16)):
        images = torch.rand(n, channels, size, size)
        canvas = GridCanvas(n, size, size)
        canvas.add(images[:3])
        canvas.add(images[3:])
        a, b = canvas.save(tmp_path / "a.png"), save_grid(images, tmp_path / "b.png")
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    gan = tasks.load_gan("dcgan", scratch / "dc")
    out = tasks.sample("dcgan", checkpoint=scratch / "dc", n=SAMPLE_BATCH + 3, seed=5, out=tmp_path / "grid.png")
    assert out["shape"] == [SAMPLE_BATCH + 3, 1, 16, 16] and batch_seed(5, 0) == 5 and batch_seed(5, 1) != 5
    expected = GridCanvas(SAMPLE_BATCH + 3, 16, 16)
    expected.add(gan.sample(SAMPLE_BATCH, seed=5))
    expected.add(gan.sample(3, seed=batch_seed(5, 1)))
    assert np.array_equal(np.asarray(Image.open(out["out"])), expected.pixels.numpy())
    small = tasks.sample("dcgan", checkpoint=scratch / "dc", n=9, seed=5, out=tmp_path / "small.png")
    save_grid(gan.sample(9, seed=5), tmp_path / "ref.png")  # up to one batch: exactly the images of one call
    assert np.array_equal(np.asarray(Image.open(small["out"])), np.asarray(Image.open(tmp_path / "ref.png")))


def test_a_batch_size_past_the_data_is_one_batch(scratch, tmp_path):
    """--batch-size 10**20 is valid: loaders cut it to the data (it crashed in itertools.islice)."""
    res = run("features", scratch / "r18", "--data", "digits:0-1", "--batch-size", str(10**20), "--out", tmp_path / "f.safetensors")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f.safetensors").is_file()
