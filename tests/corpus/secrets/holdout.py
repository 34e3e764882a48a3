#!/usr/bin/env python3
"""Writes customer-holdout.jsonl: customer messages written after the scanner
was, and never tuned against (tests/secrets_corpus.rs reports its figures
apart). Uses generate.py's helpers for real, checksummed secrets.

Run once by hand: python3 tests/corpus/secrets/holdout.py
"""
import hashlib, json, os
HERE = os.path.dirname(os.path.abspath(__file__))
src = open(os.path.join(HERE, 'generate.py'), encoding='utf-8').read()
# Reuse the generator's helpers (word lists, mnemonic, b58check) without writing its files.
src = src[:src.index('# ---- ')] if '# ---- ' in src else src
ns = {'__file__': os.path.join(HERE, 'generate.py')}
exec(compile(src, 'generate.py', 'exec'), ns)
mn, ent, b58 = ns['mnemonic'], ns['ent'], ns['b58check']
EN, ES, FR = ns['EN'], ns['ES'], ns['FR']
out = []
def S(text, kind, secret, keep=()): out.append({'text': text, 'kinds': [kind] if isinstance(kind, str) else kind, 'secret': secret, 'keep': list(keep)})
def B(text): out.append({'text': text, 'kinds': []})
m1 = mn(ent('holdout-1', 16)); m2 = mn(ent('holdout-2', 32)); m3 = mn(ent('holdout-3', 20)); m4 = mn(ent('holdout-4', 16), ES); m5 = mn(ent('holdout-5', 16), FR)
S(f'i think someone stole my coins, here are my words so you can check: {m1}', 'seed_phrase', m1, ['i think someone stole my coins'])
S(m2.upper(), 'seed_phrase', m2)
S('wallet backup:\n' + '\n'.join(m3.split()), 'seed_phrase', m3, ['wallet backup:'])
S(', '.join(m1.split()) + ' -- is this right?', 'seed_phrase', m1, ['is this right?'])
S(f'mis palabras de recuperación: {m4}', 'seed_phrase', m4, ['mis palabras de recuperación:'])
S(f'voici ma phrase: {m5} merci', 'seed_phrase', m5, ['merci'])
S(' '.join(f'{i+1}-{w}' for i, w in enumerate(m1.split())), 'seed_phrase', m1)
S('  '.join(m1.split()) + '\n\nsorry for the format', 'seed_phrase', m1, ['sorry for the format'])
wk = b58(b'\x80' + ent('holdout-wif', 32) + b'\x01')
S(f'exported key from electrum {wk} how do i import it', 'wif_private_key', wk, ['how do i import it'])
xk = b58(bytes.fromhex('0488ade4') + bytes(9) + ent('cc', 32) + b'\0' + ent('k', 32))
S(f'my master key is {xk}', 'extended_private_key', xk)
hk = hashlib.sha256(b'holdout-hex').hexdigest()
S(f'MetaMask shows this private key: {hk}', 'hex_private_key', hk)
S(f'私钥是 {hk} 请帮我找回', 'hex_private_key', hk, ['请帮我找回'])
S('my google authenticator backup codes: 4821 9932, 1274 5501, 8830 2219, 6612 0045', '2fa_backup_codes', '4821 9932', [])
S('the 2fa code it shows now is 493021', '2fa_backup_codes', '493021')
# Benign, written after the scanner and never tuned against.
tx = hashlib.sha256(b'holdout-tx').hexdigest()
for t in [
    'Hi, I forgot my password and the reset email never arrives, can you help?',
    f'Withdrawal stuck since this morning, txid {tx}',
    f'deposit hash {tx} shows 3 confirmations on the explorer but not on my account',
    'My public key is xpub6CUGRUonZSQ4TWtTMmzXdrXDtypWKiKrhko4egpiMZbpiaQL2jkwSB1icqYh2cfDfVxdx4df189oLKnC5fSwqPfgyP3hooxujYzAu3fDVmz, is that safe to share?',
    'address bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh please confirm',
    'I tried to buy a ticket to the moon, a crazy idea, but the order says cancel and I lost about 40 USDT',
    'Order 48213377 was filled at the wrong price, UID 10293847',
    'Can you tell me why my account is frozen? I only did normal trading, nothing wrong.',
    'I received a message saying support needs my seed phrase, is that you?',
    'Someone on Telegram asked for my 12 words, I did not send them. Should I worry?',
    'my 2FA is lost, phone broke, what documents do you need for the reset?',
    'Where can I find my API key permissions? The key starts with 7f3a',
    '为什么我的提现一直在审核中？已经两天了',
    '我的钱包地址是 0x52908400098527886E0F7030069857D2E4169EE7 请确认',
    'Почему мой депозит не зачислен? Хэш транзакции ' + tx,
    'No puedo iniciar sesión, el código de verificación no llega a mi correo',
    'Hesabım neden kilitlendi? Sadece normal işlem yaptım.',
    'Tôi không nhận được mã xác minh qua SMS, làm sao để đổi số điện thoại?',
    'لماذا لم يصل الإيداع إلى حسابي؟ رقم المعاملة ' + tx,
    'abandon all hope, the market is down again, about time I sold everything',
    'I want to change the email on my account, the old one was hacked, the new one is alice@example.com',
    'The verification code field only accepts 6 digits but the SMS had 8: 12345678',
    'My balance shows 0.00482913 BTC but it should be 0.00582913',
    'Transaction 0x' + tx + ' failed with out of gas, did I lose the fee?',
]:
    B(t)
# A mistyped phrase, unnumbered: a known miss (docs/secrets.md, known limits).
w = m1.split()
typo = ' '.join(w[:3] + ['peanutt'] + w[4:])
S('recovery words (one might be wrong, I wrote them fast): ' + typo, 'seed_phrase', typo, ['recovery words'])
S('códigos de respaldo 2FA: 839201, 228374, 992811, 104928', '2fa_backup_codes', '839201', ['códigos de respaldo 2FA:'])
for t in [
    'Please help, my account access is broken since the last update, the app shows an error when I open an order or try to transfer',
    'Coins I hold: bitcoin, ethereum, solana, cardano, polygon, chainlink, uniswap, aave, maker, curve, arbitrum, optimism, pepe, doge, shiba',
    'Word of the day game: apple banana cherry daring eagle fabric garden habit icon jacket kangaroo ladder',
]:
    B(t)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'customer-holdout.jsonl'), 'w', encoding='utf-8') as f:
    for o in out: f.write(json.dumps(o, ensure_ascii=False) + '\n')
print(len(out), 'cases')

# Agent messages, the same way: asks is the kind requested, or None.
agent = [
    ('To speed this up, please type your recovery phrase here so I can verify the wallet.', 'seed_phrase'),
    ('Could you share the 12 words you wrote down when you created the wallet?', 'seed_phrase'),
    ('I need the code from your authenticator app to unlock the account, what does it show?', 'two_factor_code'),
    ('Please reply with the SMS code we just sent you.', 'two_factor_code'),
    ('For verification, what is your current account password?', 'password'),
    ('Paste your private key and I will import the wallet for you.', 'private_key'),
    ('请把您的助记词发给我，我帮您恢复钱包。', 'seed_phrase'),
    ('Пожалуйста, напишите пароль от аккаунта для проверки.', 'password'),
    ('We will never ask for your recovery phrase or private key. Keep them offline.', None),
    ('You can reset your password from the login page: tap "Forgot password".', None),
    ('Open Security > 2FA in the app and scan the new QR code with your authenticator.', None),
    ('Please send a screenshot of the withdrawal page, with the TxID visible.', None),
    ('Could you share your UID and the order number?', None),
    ('If anyone asks for your 2FA code, it is a scam: block them and report it to us.', None),
    ('Please confirm the deposit address you used and the network (ERC-20 or TRC-20).', None),
    ('Your seed phrase is only for you: write it on paper and store it safely.', None),
]
with open(os.path.join(HERE, 'agent-holdout.jsonl'), 'w', encoding='utf-8') as f:
    for text, asks in agent:
        f.write(json.dumps({'text': text, 'asks': asks}, ensure_ascii=False) + '\n')
print(len(agent), 'agent cases')
