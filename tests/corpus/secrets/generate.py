#!/usr/bin/env python3
"""Writes customer.jsonl and agent.jsonl: the secret scanner's corpus.

Run once by hand (python3 tests/corpus/secrets/generate.py); the test reads the
written files, never this script. Mnemonics are real and checksummed: BIP-39
test-vector entropies and fixed entropies (sha256 of a label), encoded with the
official word lists as shipped in the `bip39` crate's sources. Keys: the BIP-32
test vector 1 master key and the Bitcoin wiki WIF example, re-encoded (and
checked against the published strings) for the other versions.
"""
import glob, hashlib, json, os, re, unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = sorted(glob.glob(os.path.expanduser('~/.cargo/registry/src/*/bip39-3.0.0/src/language')))[0]

def wordlist(name):
    text = open(os.path.join(SRC, name + '.rs'), encoding='utf-8').read()
    words = re.findall(r'"([^"]+)"', text)
    assert len(words) == 2048, name
    return words

EN, ES, ZH, ZHT, FR, JA = (wordlist(n) for n in ['english', 'spanish', 'chinese_simplified', 'chinese_traditional', 'french', 'japanese'])

def mnemonic(entropy, words=EN, sep=' '):
    bits = ''.join(f'{b:08b}' for b in entropy)
    cs = len(entropy) * 8 // 32
    bits += f'{hashlib.sha256(entropy).digest()[0]:08b}'[:cs]
    return sep.join(words[int(bits[i:i + 11], 2)] for i in range(0, len(bits), 11))

def ent(label, n):
    return hashlib.sha256(label.encode()).digest()[:n]

assert mnemonic(bytes(16)) == 'abandon ' * 11 + 'about'
assert mnemonic(bytes([0x7f] * 16)) == 'legal winner thank year wave sausage worth useful legal winner thank yellow'

B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
def b58check(b):
    b = b + hashlib.sha256(hashlib.sha256(b).digest()).digest()[:4]
    n, s = int.from_bytes(b, 'big'), ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return '1' * (len(b) - len(b.lstrip(b'\0'))) + s

CC = bytes.fromhex('873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508')
K = bytes.fromhex('e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35')
XPRV = {v: b58check(bytes.fromhex(h) + bytes(9) + CC + b'\0' + K) for v, h in
        [('xprv', '0488ade4'), ('tprv', '04358394'), ('yprv', '049d7878'), ('zprv', '04b2430c')]}
assert XPRV['xprv'] == 'xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi'
XPRV_CHILD = 'xprv9uHRZZhk6KAJC1avXpDAp4MDc3sQKNxDiPvvkX8Br5ngLNv1TxvUxt4cV1rGL5hj6KCesnDYUhd7oWgT11eZG7XnxHrnYeSvkzY7d2bhkJ7'
XPUB = 'xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8'
XPUB_CHILD = 'xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw'
WK = bytes.fromhex('0C28FCA386C7A227600B2FE50B7CAE11EC86D3BF1FBE471BE89827E19D72AA1D')
WIF = b58check(b'\x80' + WK)
assert WIF == '5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ'
WIF_C, WIF_T, WIF_TC = b58check(b'\x80' + WK + b'\x01'), b58check(b'\xef' + WK), b58check(b'\xef' + WK + b'\x01')
WIF2 = b58check(b'\x80' + ent('wif-2', 32) + b'\x01')
HEXKEY = K.hex()
HEXKEY2 = ent('hex-key-2', 32).hex()

def txid(i):
    return hashlib.sha256(f'tx-{i}'.encode()).hexdigest()

customer, agent = [], []

def secret(text, kind, secret, keep=()):
    customer.append({'text': text, 'kinds': [kind] if isinstance(kind, str) else kind, 'secret': secret, 'keep': list(keep)})

def benign(text):
    customer.append({'text': text, 'kinds': []})

# ---- seed phrases (English) ----
VECTORS = [bytes(16), bytes([0x7f] * 16), bytes([0x80] * 16), bytes([0xff] * 16), bytes(24), bytes([0x7f] * 32),
           bytes.fromhex('9e885d952ad362caeb4efe34a8e91bd2'), bytes.fromhex('c0ba5a8e914111210f2bd131f3d5e08d'),
           bytes.fromhex('23db8160a31d3e97ca3688e5e2e4aa8d')]
SEEDS = [mnemonic(e) for e in VECTORS] + [mnemonic(ent(f'en-{n}-{i}', n)) for i, n in enumerate([16, 20, 24, 28, 32] * 3)]
S = SEEDS
def numbered(words, fmt, sep):
    return sep.join(fmt.format(i + 1, w) for i, w in enumerate(words.split()))

secret(S[0], 'seed_phrase', S[0])
secret(f'hi my wallet words are: {S[1]} please help', 'seed_phrase', S[1], ['hi my wallet words are:', 'please help'])
secret(f'Hello support, my recovery phrase is {S[2]}. Can you restore my wallet?', 'seed_phrase', S[2], ['Hello support, my recovery phrase is', 'Can you restore my wallet?'])
secret(numbered(S[3], '{}. {}', '\n'), 'seed_phrase', S[3])
secret('my words:\n' + numbered(S[4], '{}) {}', '\n') + '\nwhat do I do now', 'seed_phrase', S[4], ['my words:', 'what do I do now'])
secret(numbered(S[5], '#{} {}', ' '), 'seed_phrase', S[5])
secret(numbered(S[6], '{}.{}', ' '), 'seed_phrase', S[6])
secret(numbered(S[7], '{} - {}', ', '), 'seed_phrase', S[7])
secret(S[8].replace(' ', '\n'), 'seed_phrase', S[8])
secret(S[9].upper(), 'seed_phrase', S[9])
secret(' '.join(w.capitalize() for w in S[10].split()), 'seed_phrase', S[10])
secret(S[11].replace(' ', '   '), 'seed_phrase', S[11])
secret(S[12].replace(' ', ', '), 'seed_phrase', S[12])
secret(S[13].replace(' ', ','), 'seed_phrase', S[13])
secret(f'I think I got hacked!!! seed: {S[14]} ... balance is zero now', 'seed_phrase', S[14], ['I think I got hacked!!! seed:', 'balance is zero now'])
secret(f'{S[15]}\n\nthis is my metamask phrase, is it safe?', 'seed_phrase', S[15], ['this is my metamask phrase, is it safe?'])
secret(f'wallet backup -> {S[16].upper().replace(" ", "  ")} <- pls check', 'seed_phrase', S[16], ['wallet backup ->', '<- pls check'])
secret(f'"{S[17]}"', 'seed_phrase', S[17])
secret(f'12 words: {S[18]}', 'seed_phrase', S[18], ['12 words:'])
secret(numbered(S[19], '{}. {}', '  '), 'seed_phrase', S[19])
secret(numbered(S[20], 'word {}: {}', '\n'), 'seed_phrase', S[20])
secret(f'Trust wallet asks me for this, is it correct? {S[21]}', 'seed_phrase', S[21], ['Trust wallet asks me for this, is it correct?'])
secret(f'{S[22].title()}.', 'seed_phrase', S[22])
secret(S[23].replace(' ', ' \n'), 'seed_phrase', S[23])
# Two phrases in one message: two masks.
secret(f'old: {S[0]}\nnew: {S[1]}', 'seed_phrase', S[0], ['old:', 'new:'])
# Mistyped seeds (checksum fails): numbered, or 15+ words.
bad12 = S[1].rsplit(' ', 1)[0] + ' thank'
secret(numbered(bad12, '{}. {}', '\n'), 'seed_phrase', bad12)
bad24 = ' '.join(S[5].split()[:23] + ['zoo'])
secret(f'my 24 words are {bad24} but the app says invalid', 'seed_phrase', bad24, ['my 24 words are', 'but the app says invalid'])
bad15 = ' '.join(S[10].split()[:14] + ['abandon'])
secret(bad15, 'seed_phrase', bad15)

# ---- seed phrases: Spanish, Chinese, others ----
ES_SEEDS = [mnemonic(ent(f'es-{i}', n), ES) for i, n in enumerate([16, 16, 32, 16, 24, 16])]
def strip_accents(s):
    return ''.join(c for c in unicodedata.normalize('NFKD', s) if not unicodedata.combining(c))
secret(f'Hola, mi frase semilla es {ES_SEEDS[0]}, ayuda por favor', 'seed_phrase', ES_SEEDS[0], ['Hola, mi frase semilla es', 'ayuda por favor'])
secret(ES_SEEDS[1], 'seed_phrase', ES_SEEDS[1])
secret(numbered(ES_SEEDS[2], '{}. {}', '\n'), 'seed_phrase', ES_SEEDS[2])
secret(strip_accents(ES_SEEDS[3]), 'seed_phrase', strip_accents(ES_SEEDS[3]))
secret(ES_SEEDS[4].upper(), 'seed_phrase', ES_SEEDS[4].upper())
secret(f'mis palabras: {ES_SEEDS[5].replace(" ", ", ")}', 'seed_phrase', ES_SEEDS[5].replace(' ', ', '), ['mis palabras:'])
ZH_SEEDS = [mnemonic(ent(f'zh-{i}', n), ZH) for i, n in enumerate([16, 16, 16, 24, 16, 16, 32])]
secret(ZH_SEEDS[0], 'seed_phrase', ZH_SEEDS[0])
secret(ZH_SEEDS[1].replace(' ', ''), 'seed_phrase', ZH_SEEDS[1].replace(' ', ''))
secret(f'我的助记词是：{ZH_SEEDS[2].replace(" ", "")}，请帮我找回钱包', 'seed_phrase', ZH_SEEDS[2].replace(' ', ''), ['我的助记词是：', '请帮我找回钱包'])
secret(f'助记词 {ZH_SEEDS[3]} 帮我看看', 'seed_phrase', ZH_SEEDS[3], ['助记词', '帮我看看'])
secret(ZH_SEEDS[4].replace(' ', '，'), 'seed_phrase', ZH_SEEDS[4])
secret(numbered(ZH_SEEDS[5], '{}.{}', '\n'), 'seed_phrase', ZH_SEEDS[5])
secret(f'钱包恢复词:\n{ZH_SEEDS[6]}', 'seed_phrase', ZH_SEEDS[6], ['钱包恢复词'])
ZHT_SEED = mnemonic(ent('zht-0', 16), ZHT)
secret(f'我的助記詞：{ZHT_SEED}', 'seed_phrase', ZHT_SEED, ['我的助記詞'])
FR_SEED = mnemonic(ent('fr-0', 16), FR)
secret(f'voici ma phrase: {FR_SEED}', 'seed_phrase', FR_SEED, ['voici ma phrase:'])
JA_SEED = mnemonic(ent('ja-0', 16), JA, '\u3000')
secret(JA_SEED, 'seed_phrase', JA_SEED.replace('\u3000', ' '))
secret(f'Мои слова восстановления: {S[7]} помогите', 'seed_phrase', S[7], ['Мои слова восстановления:', 'помогите'])
secret(f'Kurtarma kelimelerim {S[8]} lütfen yardım edin', 'seed_phrase', S[8], ['Kurtarma kelimelerim', 'lütfen yardım edin'])
secret(f'Cụm từ của tôi là {S[9]} giúp tôi với', 'seed_phrase', S[9], ['Cụm từ của tôi là', 'giúp tôi với'])
secret(f'هذه كلماتي {S[10]} ساعدوني', 'seed_phrase', S[10], ['هذه كلماتي', 'ساعدوني'])

# ---- WIF and extended private keys ----
secret(WIF, 'wif_private_key', WIF)
secret(f'my private key is {WIF_C} can you import it', 'wif_private_key', WIF_C, ['my private key is', 'can you import it'])
secret(f'testnet key {WIF_T}', 'wif_private_key', WIF_T, ['testnet key'])
secret(f'{WIF_TC} (testnet, compressed)', 'wif_private_key', WIF_TC, ['(testnet, compressed)'])
secret(f'Electrum exported this: {WIF2}. where are my coins?', 'wif_private_key', WIF2, ['Electrum exported this:', 'where are my coins?'])
secret(f'我的私钥 {WIF2}', 'wif_private_key', WIF2, ['我的私钥'])
secret(f'ключ {WIF} и адрес 1GAehh7TsJAHuUAeKZcXf5CnwuGuGgyX2S', 'wif_private_key', WIF, ['ключ', 'и адрес 1GAehh7TsJAHuUAeKZcXf5CnwuGuGgyX2S'])
secret(f'paper wallet: {WIF}\naddress 1GAehh7TsJAHuUAeKZcXf5CnwuGuGgyX2S', 'wif_private_key', WIF, ['paper wallet:', 'address 1GAehh7TsJAHuUAeKZcXf5CnwuGuGgyX2S'])
for v, key in XPRV.items():
    secret(f'here is my {v}: {key} thanks', 'extended_private_key', key, [f'here is my {v}:', 'thanks'])
secret(XPRV_CHILD, 'extended_private_key', XPRV_CHILD)
secret(f'xpub {XPUB} and xprv {XPRV["xprv"]}', 'extended_private_key', XPRV['xprv'], [f'xpub {XPUB} and xprv'])
secret(f'Clave maestra extendida:\n{XPRV["zprv"]}\n¿es correcto?', 'extended_private_key', XPRV['zprv'], ['Clave maestra extendida:', '¿es correcto?'])
secret(f'"{XPRV_CHILD}"', 'extended_private_key', XPRV_CHILD)

# ---- hex private keys with context ----
for text, key, keep in [
    (f'my private key is {HEXKEY} please help', HEXKEY, ['my private key is', 'please help']),
    (f'Private Key: 0x{HEXKEY2}', HEXKEY2, ['Private Key:']),
    (f'{HEXKEY2} <- this is my privkey from metamask', HEXKEY2, ['<- this is my privkey from metamask']),
    (f'我的私钥是{HEXKEY}，能帮我导入吗', HEXKEY, ['我的私钥是', '能帮我导入吗']),
    (f'mi clave privada: {HEXKEY2}', HEXKEY2, ['mi clave privada:']),
    (f'Мой приватный ключ {HEXKEY}', HEXKEY, ['Мой приватный ключ']),
    (f'özel anahtarım {HEXKEY2} cüzdanı açamıyorum', HEXKEY2, ['özel anahtarım', 'cüzdanı açamıyorum']),
    (f'khóa riêng của tôi là {HEXKEY}', HEXKEY, ['khóa riêng của tôi là']),
    (f'المفتاح الخاص {HEXKEY2}', HEXKEY2, ['المفتاح الخاص']),
    (f'secret key = {HEXKEY}', HEXKEY, ['secret key =']),
    (f'ETH priv key 0x{HEXKEY} , address 0x52908400098527886E0F7030069857D2E4169EE7', HEXKEY, ['ETH priv key', ', address 0x52908400098527886E0F7030069857D2E4169EE7']),
    (f'I exported the private key:\n{HEXKEY2}', HEXKEY2, ['I exported the private key:']),
]:
    secret(text, 'hex_private_key', key, keep)

# ---- 2FA backup codes and live codes ----
for text, code, keep in [
    ('My 2FA backup codes:\n1. 48213377\n2. 90125566\n3. 11873402\nthanks', '48213377', ['My 2FA backup codes:', 'thanks']),
    ('google backup codes 4821 3377, 9012 5566, 1187 3402', '4821 3377', ['google backup codes']),
    ('Recovery codes: a7k2-p9q3 m4x8-z2w6 q1w2-e3r4', 'a7k2-p9q3', ['Recovery codes:']),
    ('here are my backup codes 739104 220586 915733 please reset my 2fa', '739104', ['here are my backup codes', 'please reset my 2fa']),
    ('Google Authenticator backup key: JBSWY3DPEHPK3PXP', 'JBSWY3DPEHPK3PXP', ['Google Authenticator backup key:']),
    ('my 2fa code is 123456', '123456', ['my 2fa code is']),
    ('the authenticator code is 905112, it keeps failing', '905112', ['the authenticator code is', 'it keeps failing']),
    ('SMS code: 448812', '448812', ['SMS code:']),
    ('验证码 482913', '482913', ['验证码']),
    ('我的备用码是 55812234 和 90871123', '55812234', ['我的备用码是']),
    ('код подтверждения: 482913', '482913', ['код подтверждения:']),
    ('резервные коды 1234-5678 9012-3456', '1234-5678', ['резервные коды']),
    ('mis códigos de respaldo: 83712004, 11920387', '83712004', ['mis códigos de respaldo:']),
    ('yedek kodlarım 55120983 77120934', '55120983', ['yedek kodlarım']),
    ('mã dự phòng của tôi: 66120934', '66120934', ['mã dự phòng của tôi:']),
    ('رمز التحقق 739201', '739201', ['رمز التحقق']),
    ('2FA: 661204', '661204', ['2FA:']),
    ('verification code 8812 0031 is what I got', '8812 0031', ['verification code', 'is what I got']),
]:
    secret(text, '2fa_backup_codes', code, keep)

# Several kinds at once.
secret(f'seed {S[2]} and key {WIF}', ['seed_phrase', 'wif_private_key'], WIF, ['seed', 'and key'])

# ---- benign customer messages ----
for t in '''Hi, I lost access to my account after changing my phone
I can't log in, it says my password is wrong
My BTC deposit has not arrived after 3 hours
Withdrawal blocked, why?
How do I reset my 2FA? I lost my phone
I want to close my account
abandon all hope
Please help, I cannot find my deposit
I sent USDT on the wrong network, can you recover it?
What is the fee for withdrawing ETH?
My KYC verification was rejected again
Why is my account frozen?
Can you check the status of order 123456?
I deposited 500 USDT yesterday and it is still pending
The price dropped and my futures position got liquidated, I want an explanation
Is there a limit on daily withdrawals?
How long does verification usually take?
My order number is 884213 and it has not been filled
I bought 0.5 BTC at 65000 and the order shows cancelled
I have a problem with copy trading, the trader closed all positions
When will the dual investment product settle?
Where can I find my API key settings?
My API key stopped working after the update
I enabled 2FA but now the app says the code is invalid
I forgot my password and the reset email never arrives
My phone number changed, how do I update it?
Hello? Is anyone there?
Thanks for your help!
ok
The withdrawal says processing for 2 hours
Can I deposit with a bank card?
Why do I need to verify my identity again?
My account was hacked, someone withdrew all my funds
I did not make this withdrawal, please freeze my account now
Someone changed my email address without my permission
I got an email asking for my seed phrase, is that you?
A person on Telegram says he is support and asked for my recovery phrase
I never shared my private key but my wallet is empty
I wrote down my 12 words but I cannot find the paper
I lost my seed phrase, can you help me recover my wallet?
You guys never answer, this is the third time I am asking
Please escalate this to a manager
My savings interest was not paid this week
The staking rewards look wrong
I want to transfer funds from my funding account to spot
Can I change the network of a pending withdrawal?
Deposit address for TRC20 USDT please
I need the memo for my XRP deposit
I forgot the memo tag when sending XLM, can you help?
The app crashes when I open the wallet page
Your website is very slow today
How do I enable the anti-phishing code?
I want to report a scam
The P2P seller did not release the coins
Appeal for P2P order 20240611883421
I paid but the merchant says he did not receive the money
How do I become a VIP?
What are the trading fees for VIP 2?
My referral bonus was not credited
Can I get a refund for the trading fee?
I accidentally sold all my ETH, can you reverse it?
Hi, please check my withdrawal of 1200 USDT, it is stuck
The market order filled at a terrible price
My stop loss did not trigger
Why was my margin call at 80 percent?
Hello, good morning, I have a question about the launchpool
When is the next airdrop?
Can you tell me when the maintenance ends?
I lost access to my email and my phone, how can I recover my account?
I would like to know why my withdrawal was rejected with reason code 4021
Please delete my personal data
I am trying to verify with my passport but the photo keeps failing
The selfie check does not work on my phone
My documents were uploaded three days ago
Please hurry, I need the money today
My card payment failed but money was taken from my bank
It says insufficient balance but I have funds
I think there is a bug in the order book
Thank you, the issue is solved
Bye
The sun rose over the quiet valley as the old farmer walked to the field with his dog and a basket of apples
I would like to add a second account for my company, is that possible and what documents do you need from us
Can you explain the difference between isolated and cross margin in simple words please
My brother and I share one computer, is it a problem if we both log in to our own accounts from it
I lost my phone on holiday, I changed the password, I reset my email, but I still cannot enter the account
Please confirm that the address book entry was deleted, I do not want to send coins there ever again
I want to buy a small amount of bitcoin every month, is there an automatic plan for this
The chart shows a different price than the order form, which one is correct
I received a strange SMS saying my account will be blocked, is this from you
Notice: the phrase "abandon ability able about" is just an example from a tutorial, right?
word list example: apple banana orange grape
'''.strip().split('\n'):
    benign(t)

zh = '''我的账户无法登录，请帮我看看是什么问题
我的充值三个小时还没有到账
提现一直在审核中，为什么这么久
我忘记了密码，重置邮件收不到
我的谷歌验证器丢了，怎么重置二次验证
请问提币手续费是多少
我的实名认证被拒绝了
我的订单号是 884213，一直没有成交
合约被强平了，我要投诉
有人冒充客服向我要助记词，这是你们的人吗
我从来没有泄露过私钥，但钱包里的币没了
你好我想问一下为什么我的提现一直没有到账已经过去三个小时了能不能帮我查一下
我把助记词写在纸上了但是找不到了
请问怎么开启防钓鱼码
我的账户被冻结了，请尽快处理
为什么我需要再次进行身份验证
谢谢你的帮助，问题已经解决了
我转错了网络，能帮我找回吗
我的交易哈希是 0x{tx}
充值地址是 TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE
今天行情很好，我想买一点比特币，请问最低买多少
我在中国大陆可以使用你们的服务吗
你们的客服什么时候上班，我等了很久了
我想注销我的账户，请告诉我流程'''.strip().split('\n')
ru = '''Здравствуйте, не могу войти в аккаунт
Мой депозит BTC не пришел уже 3 часа
Почему заблокирован вывод средств?
Я потерял телефон, как сбросить 2FA?
Номер заказа 553201, он не исполнен
Мне написал человек в Telegram и попросил сид фразу, это вы?
Я никогда не сообщал приватный ключ, но кошелек пуст
Спасибо, вопрос решен
Хеш транзакции {tx}
Адрес кошелька 0x52908400098527886E0F7030069857D2E4169EE7
Верификация отклонена, что делать?
Когда закончится техническое обслуживание?'''.strip().split('\n')
es = '''Hola, no puedo acceder a mi cuenta
Mi depósito de USDT no ha llegado
¿Por qué está bloqueado mi retiro?
Perdí mi teléfono y no puedo usar la autenticación de dos factores
Mi número de pedido es 774512
Alguien en Telegram me pidió mi frase semilla, ¿es soporte?
Nunca compartí mi clave privada pero mi billetera está vacía
Gracias, ya está resuelto
El hash de la transacción es {tx}
Abandono la cuenta si no me ayudan hoy mismo con este problema tan grave
La verificación de identidad fue rechazada tres veces
¿Cuánto tarda un retiro a mi banco?'''.strip().split('\n')
tr = '''Merhaba, hesabıma giriş yapamıyorum
BTC yatırımım 3 saattir gelmedi
Çekim işlemim neden engellendi?
Telefonumu kaybettim, 2FA nasıl sıfırlanır?
Sipariş numaram 663201
Biri Telegram'dan kurtarma kelimelerimi istedi, bu siz misiniz?
İşlem kimliği {tx}
Teşekkürler, sorun çözüldü
Kimlik doğrulamam reddedildi
Vadeli işlemde pozisyonum likide oldu'''.strip().split('\n')
vi = '''Xin chào, tôi không đăng nhập được tài khoản
Tiền nạp BTC của tôi chưa về sau 3 giờ
Tại sao lệnh rút tiền bị chặn?
Tôi bị mất điện thoại, làm sao đặt lại 2FA?
Mã đơn hàng của tôi là 552310
Có người trên Telegram hỏi cụm từ khôi phục của tôi, có phải các bạn không?
Mã giao dịch {tx}
Cảm ơn, vấn đề đã được giải quyết
Xác minh danh tính bị từ chối
Phí rút USDT là bao nhiêu?'''.strip().split('\n')
ar = '''مرحبا، لا أستطيع الدخول إلى حسابي
لم يصل إيداع البيتكوين منذ 3 ساعات
لماذا تم حظر السحب؟
فقدت هاتفي، كيف أعيد تعيين المصادقة الثنائية؟
رقم الطلب 662301
طلب مني شخص على تيليجرام عبارة الاسترداد، هل هذا أنتم؟
معرف المعاملة {tx}
شكرا، تم حل المشكلة
تم رفض التحقق من الهوية
كم رسوم سحب USDT؟'''.strip().split('\n')
for i, t in enumerate(zh + ru + es + tr + vi + ar):
    benign(t.replace('{tx}', txid(i)))

# TxIDs, hashes, addresses, public keys: all public.
addresses = ['bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', '1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa',
             '3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy', '0x52908400098527886E0F7030069857D2E4169EE7',
             'TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE', '1GAehh7TsJAHuUAeKZcXf5CnwuGuGgyX2S',
             'bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297']
for i in range(40):
    t = txid(100 + i)
    benign([f'{t}', f'txid {t}', f'TxID: {t} still not credited', f'tx hash 0x{t}', f'Here is the transaction: {t}',
            f'deposit {t} to {addresses[i % len(addresses)]}', f'hash {t}, block 840000',
            f'I sent it, {t}', f'my withdrawal txid is {t}, the explorer shows 3 confirmations',
            f'交易ID {t}'][i % 10])
for i, a in enumerate(addresses * 3):
    benign([f'my address is {a}', f'{a}', f'please whitelist {a} for withdrawals'][i % 3])
for t in [f'my xpub is {XPUB}', XPUB, f'Watch-only wallet: {XPUB_CHILD}', f'xpub for accounting: {XPUB} and {XPUB_CHILD}',
          'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs',
          'ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP',
          f'public key 0x{txid(999)}', f'pubkey {txid(998)}']:
    benign(t)
# Numbers that look like codes but are not.
for i in range(30):
    n = 100000 + i * 31337 % 900000
    benign([f'order {n} is late', f'My UID is {n}{i % 10}', f'I sent {n} USDT', f'ticket #{n}', f'amount {n}.50',
            f'Order ID: {n}, 2FA is enabled on my account', f'call me on +44 7700 {n}', f'{n} TRX withdrawal pending',
            f'订单号 {n}', f'номер заказа {n}'][i % 10])
# Sentences heavy in BIP-39 words (prose never runs 12 list words in a row).
for t in ['I have a problem with my account balance because the last deposit did not arrive and the support team is not answering',
          'Please check the order, I want to cancel it because the price moved too much and I lost a lot of money today',
          'My son used my phone and bought some coins by mistake, can you help me reverse this order before the market opens',
          'There is a wrong amount in my history, I can see a deposit of 100 but the real amount was 1000 according to my bank',
          'Hello team, the mobile app shows an error every time I try to open the wallet section, the screen is just empty',
          'abandon ability able about above absent absorb abstract',
          'army van defense carry jealous true garbage claim echo media make',
          'Word of the day: abandon, ability, able, about, above. Just practising my English vocabulary!',
          'I will never give my seed phrase to anyone, do not worry',
          'upgrade my account to vip please, I trade every day and my volume is above the limit for the next level',
          'Can you explain what happens if my margin ratio is below the maintenance level and the price keeps falling fast']:
    benign(t)

# ---- agent messages ----
for t in '''Hello, thank you for contacting support. How can I help you today?
Never share your seed phrase with anyone, including our staff.
We will never ask for your password.
Do not send your 2FA code to anyone.
Please reset your password in Settings.
Enable 2FA in your account for better security.
Please enter the 2FA code in the app to confirm the withdrawal.
Write down your 12 words and keep them in a safe place offline.
Your withdrawal has been processed and should arrive within 30 minutes.
Could you please share the TxID of your deposit?
Please send us the transaction hash so we can check it.
Can you provide your UID so I can look into your account?
Please send a screenshot of the error message.
Our staff will never ask for your private key.
If someone asks for your recovery phrase, it is a scam.
You can change your password on the security settings page.
To reset your 2FA, click "Lost access to authenticator" on the login page.
I have escalated your case to our security team.
Your KYC documents are under review.
Please tell me the deposit address you used.
Please confirm the amount and the network you selected.
For your safety, do not share any verification codes with anyone.
Support will never ask you to send your 12-word seed.
The SMS code is sent to your registered phone number when you log in.
You can find your backup codes when you set up 2FA; store them in a safe place.
Please let me know the order number.
Thank you for your patience.
I understand your frustration, let me check.
Is there anything else I can help you with?
Please do not share your password, I only need your email address.
Please send the withdrawal ID.
We recommend enabling the anti-phishing code.
Please give me a moment while I check.
Can you tell me when you made the deposit?
Type "agent" if you want to talk to a person.
Please provide a photo of your ID document.
Your private key never leaves your own wallet, we cannot recover it.
We do not store your seed phrase, so we cannot restore a self-custody wallet.
Please update your password regularly.
If you forgot your password, use "Forgot password" on the login page.
'''.strip().split('\n') + '''感谢您联系客服，请问有什么可以帮您？
请不要向任何人透露您的助记词。
我们的工作人员绝不会索要您的密码。
请在设置中重置您的密码。
请提供您的充值交易哈希。
请告诉我您的订单号。
Никогда не сообщайте никому свой пароль.
Мы никогда не попросим ваш код 2FA.
Пришлите, пожалуйста, хеш транзакции.
Сбросить пароль можно в настройках.
Nunca comparta su frase semilla con nadie.
Nunca le pediremos su contraseña.
Por favor envíe el hash de la transacción.
Puede restablecer su contraseña en la configuración.
Şifrenizi asla kimseyle paylaşmayın.
Lütfen işlem kimliğini gönderin.
2FA kodunuzu kimseye vermeyin.
Đừng bao giờ chia sẻ mật khẩu của bạn.
Vui lòng gửi mã giao dịch.
Chúng tôi không bao giờ hỏi cụm từ khôi phục của bạn.
لا تشارك كلمة المرور مع أي شخص.
يرجى إرسال معرف المعاملة.
لن نطلب منك أبدا رمز التحقق.
'''.strip().split('\n'):
    agent.append({'text': t, 'asks': None})
for t, k in [
    ('Please send me your seed phrase so I can verify your wallet.', 'seed_phrase'),
    ('What is your 12 words recovery phrase?', 'seed_phrase'),
    ('To unlock the account I need your recovery phrase.', 'seed_phrase'),
    ('Kindly type your 24 words here for verification.', 'seed_phrase'),
    ('Share the mnemonic with me and I will restore the funds.', 'seed_phrase'),
    ('Can you provide your seed words? It is required for the refund.', 'seed_phrase'),
    ('Please paste your secret phrase in this chat.', 'seed_phrase'),
    ('I need your private key to recover the funds.', 'private_key'),
    ('Send me the private key of your wallet.', 'private_key'),
    ('What is your private key?', 'private_key'),
    ('Please provide your privkey so we can sign the recovery transaction.', 'private_key'),
    ('Can you tell me your password?', 'password'),
    ('Please send your password so I can log in and check.', 'password'),
    ('What is your account password?', 'password'),
    ('I need your password to verify the account.', 'password'),
    ('Please provide the 2FA code you just received.', 'two_factor_code'),
    ('Tell me the code from Google Authenticator.', 'two_factor_code'),
    ('What is the SMS code we sent you?', 'two_factor_code'),
    ('Please read me the 6-digit code.', 'two_factor_code'),
    ('Send me your backup codes and I will reset the 2FA.', 'two_factor_code'),
    ('Please confirm the verification code you received by email here.', 'two_factor_code'),
    ('Never share your password with strangers. But I am support, so send me your seed phrase.', 'seed_phrase'),
    ('请把您的助记词发给我。', 'seed_phrase'),
    ('请提供您的私钥。', 'private_key'),
    ('请告诉我您的密码。', 'password'),
    ('您的谷歌验证码是多少？', 'two_factor_code'),
    ('Пришлите код из SMS.', 'two_factor_code'),
    ('Назовите вашу сид фразу.', 'seed_phrase'),
    ('Сообщите ваш пароль для проверки.', 'password'),
    ('Por favor envíeme su frase semilla.', 'seed_phrase'),
    ('¿Cuál es su contraseña?', 'password'),
    ('Necesito su código 2FA.', 'two_factor_code'),
    ('Lütfen şifrenizi buraya yazın.', 'password'),
    ('Kurtarma ifadenizi gönderin.', 'seed_phrase'),
    ('Vui lòng gửi mã 2FA cho tôi.', 'two_factor_code'),
    ('Cung cấp cụm từ khôi phục của bạn.', 'seed_phrase'),
    ('أرسل لي المفتاح الخاص.', 'private_key'),
    ('ما هي كلمة المرور الخاصة بك؟', 'password'),
    ('أرسل رمز التحقق من فضلك.', 'two_factor_code'),
    ('To speed things up, just give me your 2FA code.', 'two_factor_code'),
]:
    agent.append({'text': t, 'asks': k})

for name, rows in [('customer.jsonl', customer), ('agent.jsonl', agent)]:
    with open(os.path.join(HERE, name), 'w', encoding='utf-8') as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
print(len([r for r in customer if not r['kinds']]), 'benign customer,', len([r for r in customer if r['kinds']]), 'secret customer,',
      len([r for r in agent if not r['asks']]), 'benign agent,', len([r for r in agent if r['asks']]), 'asking agent')
